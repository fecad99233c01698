"""Helpers shared by CLI command modules."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import click

from judge.papers import Paper, PaperRegistry


def app_settings(ctx: click.Context) -> Any:
    return ctx.find_root().obj.settings


def registry(ctx: click.Context) -> PaperRegistry:
    settings = app_settings(ctx)
    return PaperRegistry(settings.papers.rubrics_dir, settings.papers.blacklists_dir)


def resolve_paper(ctx: click.Context, ref: str) -> Paper:
    return registry(ctx).resolve(ref)


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False))


def judge_option(
    default: str, choices: tuple[str, ...], *, legacy_flag: bool = False
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--judge NAME``: the one spelling of "which judge" on every command, a name of
    judge.llm.backends (``--judge dummy`` for the dummy judge; ``auto``: the model when a key or
    judge.base_url is configured, else the dummy judge). The command function receives ``judge``,
    the name. ``legacy_flag`` keeps a hidden ``--dummy`` for scripts written before (same as
    ``--judge dummy``)."""

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(f)
        def wrapper(*args: Any, judge_kind: str, legacy_dummy: bool = False, **kwargs: Any) -> Any:
            return f(*args, judge="dummy" if legacy_dummy else judge_kind, **kwargs)

        if legacy_flag:
            wrapper = click.option("--dummy", "legacy_dummy", is_flag=True, hidden=True)(wrapper)
        help_text = "dummy: the dummy judge (no key, no network, placeholder scores; always said)"
        if "auto" in choices:
            help_text += "; auto: the configured model when a key or judge.base_url is set, else dummy"
        kind = click.Choice(choices)
        return click.option(
            "--judge", "judge_kind", type=kind, default=default, show_default=True, help=help_text
        )(wrapper)

    return decorate


COMMANDS: list[click.Command] = []
