"""Helpers shared by CLI command modules."""

from __future__ import annotations

import json
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


COMMANDS: list[click.Command] = []
