"""``reprobot init`` and ``reprobot config check``: the configuration template, generated from the
settings models themselves (every setting at its default, with the comment the code gives it, so it
cannot drift from them), and the check of a file (every problem, each with its line and column)."""

from __future__ import annotations

import inspect
import re
import textwrap
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_core import to_jsonable_python

from bot.config_tools import validation_errors, yaml_error
from bot.errors import ConfigError
from bot.settings import SECRET_ENV, Settings, load_settings

INSTALL_DEPENDENT = ("rubrics_dir", "blacklists_dir")  # defaults point into the installed package
_FIELD_COMMENT = re.compile(r"^\s+(\w+)\s*:[^#]*#\s?(.*)$")


def check_file(path: Path) -> list[str]:
    """All problems of the configuration file at ``path`` (empty when it loads)."""
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
            lines.append(f"{pad}{name}:")  # with every key commented out: null, read as the defaults
            lines += inner
            continue
        comment = comments.get(name)
        text = f"{pad}{name}: {_scalar(value)}"
        # Commented-out keys hold a valid value, so any one can be uncommented as it stands.
        if name in INSTALL_DEPENDENT:
            example = name.removesuffix("_dir")
            text = f"{pad}# {name}: {example}  # default: the papers bundled with reprobot"
        elif isinstance(value, Path) and value.is_absolute():
            text = f"{pad}# {name}: {_scalar(value)}  # default on this machine"
        elif comment:
            text += f"  # {comment}"
        lines.append(text)
    return lines


def config_template() -> str:
    """The whole configuration at its defaults, commented, as YAML that loads back to the defaults."""
    head = [
        "# reprobot configuration: every setting at its default (written by `reprobot init`).",
        "# Check it with `reprobot config check FILE`; use it with `reprobot --config FILE ...`",
        "# or REPROBOT_CONFIG=FILE (docs/CONFIG.md explains each section and how paths are read).",
        "# Secrets never live here; they come from the environment:",
    ]
    head += [f"#   {key}: {' or '.join(names)}" for key, names in SECRET_ENV.items()]
    return "\n".join(head + _section(Settings(), 0)) + "\n"
