"""The ``reprobot`` command line.

Subcommands live in ``bot/cli/<topic>.py``; each module exports ``COMMANDS``. Domain errors are
translated here, at the edge, into one line on stderr and an exit code: 0 success, 1 a failure the
user can act on (bad input, failed check), 2 a usage error, 3 an infrastructure failure, 130 an
interrupt. No tracebacks for bad input.
"""

from __future__ import annotations

import difflib
import importlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bot.errors import BotError
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
    """The command group: commands load when used; errors are translated here."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMAND_TABLE)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return load_command(cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = click.utils.make_str(args[0]) if args else ""
        if args and not name.startswith("-") and load_command(name) is None and not ctx.resilient_parsing:
            close = difflib.get_close_matches(name, list(COMMAND_TABLE), n=3, cutoff=0.6)
            hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            ctx.fail(f"No such command {name!r}.{hint}")
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, short) for name, (_, short) in sorted(COMMAND_TABLE.items())]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

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
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=lambda ctx, param, value: _print_version(ctx, value),
    help="Show the version and exit.",
)
@click.pass_context
def main(ctx: click.Context, config_path: Path | None) -> None:
    """reprobot: grade paper reproductions the way PaperBench does, as a git-native bot."""
    ctx.obj = AppContext(config_path)


# name -> (module under bot/cli, one-line help). ``reprobot --help`` lists this table without importing
# any command module (docker, openai, flask and the judge load only for the command that runs);
# tests/bot/test_cli_basics.py checks it against every module's COMMANDS.
COMMAND_TABLE: dict[str, tuple[str, str]] = {
    "blacklist": (
        "runner_cmds",
        "Blacklisted resources of a paper.",
    ),
    "config": (
        "config_cmds",
        "The configuration file.",
    ),
    "costs": (
        "cost_cmds",
        "Judge cost (USD) of every graded result folder, totalled by paper, submitter and UTC day.",
    ),
    "doctor": (
        "runner_cmds",
        "Is this machine ready to run reproductions? One OK/WARN/FAIL line per check, with the fix.",
    ),
    "forge": (
        "forge_cmds",
        "A local bare git repository that takes submissions by `git push` (no GitHub needed).",
    ),
    "grade": (
        "grade_cmds",
        "Reproduce SUBMISSION in the sandbox, grade every rubric leaf, write DIR/report.html.",
    ),
    "image": (
        "runner_cmds",
        "The reproduction image.",
    ),
    "import": (
        "runner_cmds",
        "Bring results of other graders into reprobot's layout.",
    ),
    "init": (
        "config_cmds",
        "Write PATH (default reprobot.yaml): every setting at its default, each with its comment.",
    ),
    "janitor": (
        "runner_cmds",
        "Remove what dead runs left: containers past their deadline, networks, proxies, mounts, folders.",
    ),
    "jobs": (
        "bot_cmds",
        "List the queue's jobs.",
    ),
    "judge": (
        "judge_cmds",
        "Grade EXECUTED (a `reprobot reproduce --out` folder) against the paper's rubric.",
    ),
    "judge-eval": (
        "scoring",
        "Leaf-level accuracy and macro P/R/F1 of PRED against a human-graded GOLD tree.",
    ),
    "judge-eval-run": (
        "judge_cmds",
        "Grade EXECUTED with the GOLD tree as the rubric (as PaperBench's JudgeEval runner does), with "
        "each protocol, and print accuracy, F1 (overall and per category) and cost side by side.",
    ),
    "leaderboard": (
        "report_cmds",
        "Mean ± SE over runs, best and latest per submitter, per paper and overall; each mode and judge "
        "protocol ranked apart (dummy-judge and no-paper rows marked).",
    ),
    "override": (
        "override_cmds",
        "Override the judge's verdict on LEAF of the grade in RESULT_DIR and rescore it (the judge's verdict "
        "is kept beside yours, with REASON); its check run, comment and leaderboard follow.",
    ),
    "papers": (
        "rubric",
        "List the papers of the configured papers folder (gradable = paper.md present).",
    ),
    "report": (
        "report_cmds",
        "Write RESULT_DIR/report.html (self-contained), or print the comment / check output.",
    ),
    "reproduce": (
        "runner_cmds",
        "Run SUBMISSION's reproduce.sh in the sandbox; results in --out.",
    ),
    "rubric": (
        "rubric",
        "Validate and inspect rubric trees.",
    ),
    "score": (
        "scoring",
        "Recompute every internal score from the leaves; the last stdout line is the root score.",
    ),
    "serve": (
        "bot_cmds",
        "Run the webhook app (POST /webhook, GET /healthz) and serve result folders read-only (GET "
        "/results/..., GET /leaderboard).",
    ),
    "submit": (
        "submit_cmds",
        "Push FOLDER (reproduce.sh at its root) as a submission for paper ID and open it for grading.",
    ),
    "worker": (
        "bot_cmds",
        "Process queued jobs: check runs, grading, the PR comment.",
    ),
}
COMMAND_MODULES = tuple(sorted({module for module, _ in COMMAND_TABLE.values()}))


def load_command(name: str) -> click.Command | None:
    entry = COMMAND_TABLE.get(name)
    if entry is None:
        return None
    module = importlib.import_module(f"{__name__}.{entry[0]}")
    for command in getattr(module, "COMMANDS", []):
        if command.name == name:
            found: click.Command = command
            return found
    return None


def _print_version(ctx: click.Context, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from bot.version import reprobot_version

    click.echo(f"reprobot, version {reprobot_version()}")
    ctx.exit()


def run() -> None:  # pragma: no cover - console entry point for `python -m bot.cli`
    sys.exit(main())
