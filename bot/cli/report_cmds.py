"""``reprobot report`` (HTML report / PR comment / check output of a result folder) and
``reprobot leaderboard`` (all graded result folders, as Markdown or HTML)."""

from __future__ import annotations

import json
import os
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


FORMATS = ("text", "md", "html", "csv", "json")
SUFFIX_FORMAT = {".md": "md", ".html": "html", ".htm": "html", ".csv": "csv", ".json": "json", ".txt": "text"}


@click.command("leaderboard")
@click.option(
    "--results",
    "results_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of result folders (default: <data_dir>/results).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="Default: from --out's extension (.md .html .csv .json), else text for the terminal.",
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write here.")
@click.option("--human", "human_users", multiple=True, help="Submitter to mark as human baseline (repeat).")
@click.option(
    "--include-dummy/--no-include-dummy",
    default=None,
    help="Rank dummy-judge results (apart, marked) or leave them out (default: leaderboard.include_dummy).",
)
@click.option("--title", default="reprobot leaderboard", show_default=True)
@click.pass_context
def leaderboard(
    ctx: click.Context,
    results_dir: Path | None,
    fmt: str | None,
    out: Path | None,
    human_users: tuple[str, ...],
    include_dummy: bool | None,
    title: str,
) -> None:
    """Mean ± SE over runs, best and latest per submitter, per paper and overall; each mode and judge
    protocol ranked apart (dummy-judge and no-paper rows marked)."""
    settings = app_settings(ctx)
    if results_dir is None:
        results_dir = Path(settings.data_dir) / "results"
    if not results_dir.is_dir():
        raise click.UsageError(f"{results_dir}: no such results folder")
    if include_dummy is None:
        include_dummy = settings.leaderboard.include_dummy
    humans = (*settings.bot.human_baseline_users, *human_users)
    board = build_leaderboard(results_dir, human_users=humans, include_dummy=include_dummy)
    from bot.report.leaderboard_export import to_csv, to_json, to_text

    if fmt is None:
        fmt = SUFFIX_FORMAT.get(out.suffix.lower(), "md") if out is not None else "text"
    # links to reports: relative to where the page is read (the file written, or this folder)
    base = os.path.relpath(results_dir, (out.parent if out is not None else Path.cwd())).replace(os.sep, "/")
    text = {
        "text": lambda: to_text(board, title=title),
        "md": lambda: render_markdown(board, title=title),
        "html": lambda: render_html(board, title=title, results_base=f"{base.rstrip('/')}/"),
        "csv": lambda: to_csv(board),
        "json": lambda: to_json(board),
    }[fmt]()
    for reason in board.skipped:
        click.echo(f"reprobot: skipped {reason}", err=True)
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(str(out))


COMMANDS: list[click.Command] = [report, leaderboard]
