"""``reprobot init`` (a commented configuration, every setting at its default) and
``reprobot config check`` (validate one: line and column of YAML errors, nearest known key)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from bot.config_template import check_file, config_template


@click.command("init")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path), default=Path("reprobot.yaml"))
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(path: Path, force: bool) -> None:
    """Write PATH (default reprobot.yaml): every setting at its default, each with its comment."""
    if path.exists() and not force:
        raise click.UsageError(f"{path} exists (use --force to overwrite it)")
    path.write_text(config_template(), encoding="utf-8")
    click.echo(f"wrote {path}; check it with: reprobot config check {path}")


@click.group("config")
def config_group() -> None:
    """The configuration file."""


@config_group.command("check")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.pass_context
def config_check(ctx: click.Context, path: Path | None) -> None:
    """Validate PATH (default: --config, else $REPROBOT_CONFIG): exit 0 when it loads, else 1 with
    one line per problem (FILE:LINE:COLUMN, the nearest known key for a misspelt one)."""
    path = (
        path
        or ctx.find_root().obj.config_path
        or (Path(os.environ["REPROBOT_CONFIG"]) if os.environ.get("REPROBOT_CONFIG") else None)
    )
    if path is None:
        raise click.UsageError("name a configuration file (or pass --config / set REPROBOT_CONFIG)")
    problems = check_file(path)
    for problem in problems:
        click.echo(f"reprobot: {problem}", err=True)
    if problems:
        ctx.exit(1)
    click.echo(f"{path}: ok")


COMMANDS: list[click.Command] = [init, config_group]
