"""Rendering of a result folder (docs/FORMATS.md) into the PR comment, the check-run output and the
HTML report. This is the API the bot calls; the templates live in ``templates/``.

Modules: ``model`` (a result folder loaded once into a frozen ReportContext), ``escaping`` (untrusted text
into Markdown/HTML), ``tree`` (levels of detail of the score tree), ``markdown`` (comment and check
run), ``plain`` (the headline and the forge note's digest), ``html`` (the self-contained report, with
``outputs``: the run's figures and tables, and ``history``: earlier runs), ``overrides`` (an
organizer's verdict on a leaf, rescored), ``leaderboard`` (all graded result folders), ``dashboard``
(``reprobot serve``'s ``/`` and ``/results/``), ``scripts`` (the pages' own scripts and their hashes).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bot.report.history import HistoryEntry
from bot.report.html import render_html_report, write_html_report_ctx
from bot.report.markdown import (
    CHECK_TEXT_LIMIT,
    CHECK_TITLE_LIMIT,
    COMMENT_LIMIT,
    COMMENT_MARKER,
    CheckOutput,
    render_check_output_ctx,
    render_pr_comment_ctx,
)
from bot.report.model import ReportContext, ReportError, load_context

__all__ = [
    "CHECK_TEXT_LIMIT",
    "CHECK_TITLE_LIMIT",
    "COMMENT_LIMIT",
    "COMMENT_MARKER",
    "CheckOutput",
    "HistoryEntry",
    "ReportContext",
    "ReportError",
    "load_context",
    "render_check_output",
    "render_html_report",
    "render_pr_comment",
    "write_html_report",
]


def render_pr_comment(
    result_dir: Path, *, history: Sequence[HistoryEntry] | None = None, report_url: str | None = None
) -> str:
    """The whole PR comment body (starts with COMMENT_MARKER), <= 65,536 characters.

    ``history``: earlier grades of this PR, oldest first, not including this one.
    ``report_url``: where the full HTML report can be read (only http(s) URLs are linked).
    """
    return render_pr_comment_ctx(load_context(Path(result_dir)), history=history, report_url=report_url)


def render_check_output(result_dir: Path, *, report_url: str | None = None) -> CheckOutput:
    """Check-run output: title <= 255, summary and text <= 65,535 characters each."""
    return render_check_output_ctx(load_context(Path(result_dir)), report_url=report_url)


def write_html_report(result_dir: Path, *, out: Path | None = None, results_root: Path | None = None) -> Path:
    """Write the self-contained HTML report (default RESULT_DIR/report.html) and return its path.
    ``results_root``: where the previous run of the same submitter and paper is looked for."""
    return write_html_report_ctx(load_context(Path(result_dir)), out=out, results_root=results_root)
