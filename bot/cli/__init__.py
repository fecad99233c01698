"""The ``reprobot`` command line.

Subcommands live in ``bot/cli/<topic>.py``; each module exports ``COMMANDS``. Domain errors are
translated here, at the edge, into one line on stderr and an exit code: 0 success, 1 a failure the
user can act on (bad input, failed check), 2 a usage error, 3 an infrastructure failure, 130 an
interrupt. No tracebacks for bad input.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bot.errors import BotError
from bot.version import reprobot_version
from judge.errors import JudgeError
from runner.errors import RunnerError

if TYPE_CHECKING:
    from bot.settings import Settings

DOMAIN_ERRORS = (JudgeError, RunnerError, BotError)


class AppContext:
    """Lazily built settings, so commands that need none (``rubric check``) never read config."""

    def __init__(self, config_path: Path | None) -> None:
        self.config_path = config_path
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from bot.settings import load_settings

            self._settings = load_settings(self.config_path, environ=os.environ)
        return self._settings


class ReprobotGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DOMAIN_ERRORS as exc:
            click.echo(f"reprobot: error: {exc}", err=True)
            ctx.exit(getattr(exc, "exit_code", 1))
        except KeyboardInterrupt:
            click.echo("reprobot: interrupted", err=True)
            ctx.exit(130)


@click.group(cls=ReprobotGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="YAML configuration file (default: $REPROBOT_CONFIG, else built-in defaults).",
)
@click.version_option(reprobot_version(), prog_name="reprobot")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None) -> None:
    """reprobot: grade paper reproductions the way PaperBench does, as a git-native bot."""
    ctx.obj = AppContext(config_path)


COMMAND_MODULES = (
    "bot_cmds",
    "config_cmds",
    "cost_cmds",
    "forge_cmds",
    "grade_cmds",
    "judge_cmds",
    "report_cmds",
    "rubric",
    "runner_cmds",
    "scoring",
    "submit_cmds",
)


def _register() -> None:
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        for command in getattr(module, "COMMANDS", []):
            main.add_command(command)


_register()


def run() -> None:  # pragma: no cover - console entry point for `python -m bot.cli`
    sys.exit(main())
