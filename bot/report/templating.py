"""The Jinja2 environments for ``templates/``: Markdown escapes by default, HTML autoescapes.

In the Markdown environment every ``{{ value }}`` goes through ``md_inline`` unless the value is
already ``Markup`` (escaped by a filter, or pre-rendered by us). So a template that forgets a filter
still cannot leak a tag, link or mention from untrusted text.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from bot.assets import asset_dir
from bot.report import formatting
from bot.report.escaping import html_attr_id, html_text, md_code, md_inline

TEMPLATES_DIR = asset_dir("templates")


def _md_finalize(value: Any) -> Any:
    if isinstance(value, Markup):
        return value
    if value is None:
        return Markup("")
    if isinstance(value, bool | int | float):
        return Markup(str(value))
    return md_inline(value)


def _json_script(value: Any) -> Markup:
    """JSON safe inside ``<script type="application/json">`` (no ``</script>``, no ``<!--``)."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return Markup(text)


def _common(env: Environment) -> Environment:
    env.filters.update(
        md=md_inline,
        code=md_code,
        html_text=html_text,
        anchor=html_attr_id,
        pct=formatting.pct,
        pts=formatting.pts,
        duration=formatting.duration,
        usd=formatting.usd,
        weight=formatting.weight,
        sha=formatting.short_sha,
        when=formatting.when,
        json_script=_json_script,
    )
    return env


@cache
def markdown_env(templates_dir: Path = TEMPLATES_DIR) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(templates_dir)),
        autoescape=False,
        finalize=_md_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=StrictUndefined,
    )
    return _common(env)


@cache
def html_env(templates_dir: Path = TEMPLATES_DIR) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(templates_dir)),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=StrictUndefined,
    )
    return _common(env)
