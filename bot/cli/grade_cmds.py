"""``reprobot grade``: the whole pipeline on this machine (reproduce, then judge, then report)."""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli.common import app_settings, judge_option
from bot.grading import GradeRequest
from bot.results import REPORT_HTML
from bot.settings import Settings
from judge.config import JUDGE_BACKENDS


@click.command("grade")
@click.argument("submission")
@click.option("--paper", required=True, help="Paper id, or a folder in PaperBench's layout.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--code-dev", is_flag=True, help="Grade the Code-Dev variant (Code Development leaves only).")
@judge_option("auto", JUDGE_BACKENDS)
@click.option("--model", default=None, help="The judge's model (default: judge.model).")
@click.option("--base-url", default=None, help="An OpenAI-compatible endpoint, keyless too (judge.base_url).")
@click.option("--reuse", type=click.Path(file_okay=False, path_type=Path), help="Judge this executed folder.")
@click.option(
    "--allow-missing-paper", is_flag=True, help="Grade a paper without paper.md (every output says so)."
)
@click.option(
    "--agent-log",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="The agent's log, for PaperBench's blacklist monitor (default: agent.log at the root).",
)
@click.pass_context
def grade(
    ctx: click.Context,
    submission: str,
    paper: str,
    out_dir: Path,
    code_dev: bool,
    judge: str,
    model: str | None,
    base_url: str | None,
    reuse: Path | None,
    allow_missing_paper: bool,
    agent_log: Path | None,
) -> None:
    """Reproduce SUBMISSION in the sandbox, grade every rubric leaf, write DIR/report.html.

    The last stdout line is the root score. Exit 0 when graded, 1 when the submission was rejected,
    3 on an infrastructure failure.
    """
    from bot.cli.progress import TerminalProgress
    from bot.pipeline import LocalGrader
    from runner.janitor import sweep_at_start

    settings: Settings = app_settings(ctx)
    update: dict[str, object] = {"backend": judge}
    update |= {k: v for k, v in (("model", model), ("base_url", base_url)) if v is not None}
    if allow_missing_paper:
        update["allow_missing_paper"] = True
    settings = settings.model_copy(update={"judge": settings.judge.model_copy(update=update)})
    sweep_at_start(settings.runner.image)  # containers and temp folders of dead runs
    grader = LocalGrader(settings)
    caveat = grader.check_judge()  # --judge openai without a key: one line now, not after the reproduction
    if caveat:
        click.secho(f"reprobot: the judge's caveat: {caveat} (NOT a real grade)", fg="yellow", err=True)
    progress = TerminalProgress()
    request = GradeRequest(
        submission, paper, code_dev=code_dev, reuse_reproduction=reuse, agent_log=agent_log
    )
    try:
        outcome = grader.grade(request, out_dir, progress)
    finally:
        progress.close()
    if outcome.status != "graded":
        click.echo(f"reprobot: {outcome.status}: {outcome.message}", err=True)
        raise SystemExit(1 if outcome.status == "rejected" else 3)
    click.echo(f"{outcome.message}")
    click.echo(f"report: {out_dir / REPORT_HTML}")
    click.echo(repr(outcome.score))


COMMANDS: list[click.Command] = [grade]
