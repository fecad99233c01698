"""``reprobot report`` (HTML report / PR comment / check output of a result folder) and
``reprobot leaderboard`` (all graded result folders, as Markdown or HTML)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from bot.cli.common import app_settings
from bot.report import (
    load_context,
    render_check_output,
    render_pr_comment,
    write_html_report,
)
from bot.report.leaderboard import build_leaderboard, render_html, render_markdown


@click.command("report")
@click.argument("result_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--comment", is_flag=True, help="Print the PR comment Markdown instead of writing HTML.")
@click.option("--check", is_flag=True, help="Print the check-run output (title, summary, text) as JSON.")
@click.option("--report-url", default=None, help="Where the full report will be published (linked).")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="HTML file to write."
)
def report(result_dir: Path, comment: bool, check: bool, report_url: str | None, out: Path | None) -> None:
    """Write RESULT_DIR/report.html (self-contained), or print the comment / check output."""
    if comment:
        click.echo(render_pr_comment(result_dir, report_url=report_url), nl=False)
        return
    if check:
        o = render_check_output(result_dir, report_url=report_url)
        click.echo(json.dumps({"title": o.title, "summary": o.summary, "text": o.text}, indent=2))
        return
    load_context(result_dir)  # fail early, with one line, on a folder without grade.json
    path = write_html_report(result_dir, out=out)
    click.echo(str(path))


@click.command("leaderboard")
@click.option(
    "--results",
    "results_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of result folders (default: <data_dir>/results).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["md", "html", "csv", "json"]), default="md", show_default=True
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write here.")
@click.option("--human", "human_users", multiple=True, help="Submitter to mark as human baseline (repeat).")
@click.option("--include-dummy", is_flag=True, help="Also rank results graded by the dummy judge.")
@click.option("--title", default="reprobot leaderboard", show_default=True)
@click.pass_context
def leaderboard(
    ctx: click.Context,
    results_dir: Path | None,
    fmt: str,
    out: Path | None,
    human_users: tuple[str, ...],
    include_dummy: bool,
    title: str,
) -> None:
    """Mean ± SE over runs, best and latest per submitter, per paper and overall; each mode and judge
    protocol ranked apart (dummy-judge and no-paper rows marked)."""
    if results_dir is None:
        results_dir = Path(app_settings(ctx).data_dir) / "results"
    if not results_dir.is_dir():
        raise click.UsageError(f"{results_dir}: no such results folder")
    board = build_leaderboard(results_dir, human_users=human_users, include_dummy=include_dummy)
    from bot.report.leaderboard_export import to_csv, to_json

    if fmt in ("csv", "json"):
        text = to_csv(board) if fmt == "csv" else to_json(board)
    else:
        text = render_markdown(board, title=title) if fmt == "md" else render_html(board, title=title)
    for reason in board.skipped:
        click.echo(f"reprobot: skipped {reason}", err=True)
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(str(out))


COMMANDS: list[click.Command] = [report, leaderboard]
