"""The configuration as people meet it: ``reprobot init`` writes every setting at its default, with
the comment the code gives it; ``reprobot config check`` (and every command reading a config) names
the line and column of a YAML error and the line of a bad key, and suggests the nearest known key.

The template is generated from the settings models themselves, so it cannot drift from them.
"""

from __future__ import annotations

import difflib
import inspect
import re
import textwrap
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_core import to_jsonable_python

INSTALL_DEPENDENT = ("rubrics_dir", "blacklists_dir")  # defaults point into the installed package
_FIELD_COMMENT = re.compile(r"^\s+(\w+)\s*:[^#]*#\s?(.*)$")


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


def check_file(path: Path) -> list[str]:
    """All problems of the configuration file at ``path`` (empty when it loads)."""
    from bot.errors import ConfigError
    from bot.settings import Settings, load_settings

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return [f"{path}: cannot read ({exc.strerror or type(exc).__name__})"]
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return [yaml_error(str(path), exc)]
    if isinstance(data, dict) and "secrets" not in data:
        try:
            Settings(**data)
        except ValidationError as exc:
            return validation_errors(exc, str(path), text, Settings)
        except TypeError:
            pass
    try:
        load_settings(path, environ={})
    except ConfigError as exc:
        return [str(exc)]
    return []


# ------------------------------------------------------------------------------------ template


def _comments(model: type[BaseModel]) -> dict[str, str]:
    try:
        source = inspect.getsource(model)
    except (OSError, TypeError):
        return {}
    return {m.group(1): m.group(2).strip() for m in map(_FIELD_COMMENT.match, source.splitlines()) if m}


def _scalar(value: Any) -> str:
    value = to_jsonable_python(value)
    dumped = yaml.safe_dump(value, default_flow_style=True, width=10_000, sort_keys=False).strip()
    return dumped.removesuffix("\n...").removesuffix("...").strip()


def _section(model: BaseModel, indent: int) -> list[str]:
    pad = "  " * indent
    comments = _comments(type(model))
    lines: list[str] = []
    for name, field in type(model).model_fields.items():
        if field.exclude:
            continue
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            continue
        if isinstance(value, BaseModel):
            own = type(value).__dict__.get("__doc__") or f"{name}:"
            first = " ".join(inspect.cleandoc(own).split("\n\n")[0].split())
            lines += ["", *textwrap.wrap(first, 100, initial_indent=f"{pad}# ", subsequent_indent=f"{pad}# ")]
            inner = _section(value, indent + 1)
            active = any(line.strip() and not line.strip().startswith("#") for line in inner)
            lines.append(f"{pad}{name}:" if active else f"{pad}{name}: {{}}")
            lines += inner
            continue
        comment = comments.get(name)
        text = f"{pad}{name}: {_scalar(value)}"
        if name in INSTALL_DEPENDENT:
            text = f"{pad}# {name}: (default: the papers bundled with reprobot)"
        elif isinstance(value, Path) and value.is_absolute():
            text = f"{pad}# {name}: (default on this machine: {value})"
        elif comment:
            text += f"  # {comment}"
        lines.append(text)
    return lines


def config_template() -> str:
    """The whole configuration at its defaults, commented, as YAML that loads back to the defaults."""
    from bot.settings import SECRET_ENV, Settings

    head = [
        "# reprobot configuration: every setting at its default (written by `reprobot init`).",
        "# Check it with `reprobot config check FILE`; use it with `reprobot --config FILE ...`",
        "# or REPROBOT_CONFIG=FILE (docs/CONFIG.md explains each section and how paths are read).",
        "# Secrets never live here; they come from the environment:",
    ]
    head += [f"#   {key}: {' or '.join(names)}" for key, names in SECRET_ENV.items()]
    return "\n".join(head + _section(Settings(), 0)) + "\n"
