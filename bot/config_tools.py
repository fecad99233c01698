"""Configuration errors as people need them: the line and column of a YAML error, the line of a bad
key and the nearest known key for a misspelt one. Used by ``bot.settings`` (every command) and by
``reprobot config check``; imports nothing of the bot, so settings can use it."""

from __future__ import annotations

import difflib

import yaml
from pydantic import BaseModel, ValidationError


def yaml_error(source: str, exc: yaml.YAMLError) -> str:
    """``FILE:LINE:COLUMN: not valid YAML: problem`` (1-based), as editors expect."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is None:
        return f"{source}: not valid YAML: {problem}"
    return f"{source}:{mark.line + 1}:{mark.column + 1}: not valid YAML: {problem}"


def _locate(text: str, loc: tuple[str | int, ...]) -> tuple[int, int] | None:
    """(line, column), 1-based, of the key at ``loc`` in the YAML ``text``."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    where = None
    for part in loc:
        if not isinstance(node, yaml.MappingNode):
            break
        for key, value in node.value:
            if key.value == str(part):
                where, node = key.start_mark, value
                break
        else:
            break
    return (where.line + 1, where.column + 1) if where is not None else None


def _model_at(model: type[BaseModel], loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    for part in loc:
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


def nearest_key(key: str, known: list[str]) -> str | None:
    found = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return found[0] if found else None


def validation_errors(exc: ValidationError, source: str, text: str, root: type[BaseModel]) -> list[str]:
    """Every problem of a validation error, one line each: where, which key, what to do."""
    out = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc) or "(top level)"
        at = _locate(text, loc) if text else None
        where = f"{source}:{at[0]}:{at[1]}" if at else source
        if err["type"] == "extra_forbidden":
            parent = _model_at(root, loc[:-1])
            known = sorted(parent.model_fields) if parent else []
            hint = nearest_key(str(loc[-1]), known)
            tip = f"; did you mean '{hint}'?" if hint else ""
            if not hint and known:
                tip = f"; known keys: {', '.join(known)}"
            out.append(f"{where}: unknown key '{key}'{tip}")
        else:
            out.append(f"{where}: key '{key}': {err['msg']}")
    return out
