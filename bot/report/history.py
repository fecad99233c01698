"""Earlier runs: the PR comment's history of this PR's grades (a collapsed table: score, commit,
time, link) and the report's link to the previous run of the same submitter and paper.

The comment's rows come from the queue (``bot.jobs.queue``'s history, oldest first, this run left
out); the report's previous run is found among the result folders beside it, so it works for every
grader that writes into the results folder, on disk and when ``reprobot serve`` serves it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from markupsafe import Markup

from bot.report import formatting
from bot.report.escaping import md_code, md_inline
from bot.report.links import safe_url
from bot.results import REPORT_HTML, ResultFolder

MAX_ROWS = 20  # the comment shows this many earlier runs (the newest); the count says how many more


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """An earlier grade of the same PR (the caller passes them oldest first, without this one)."""

    head_sha: str
    score: float
    coverage: float
    finished_at: str
    report_url: str | None = None


def comment_history(
    score: float, head_sha: str | None, history: Sequence[HistoryEntry] | None
) -> dict[str, Any] | None:
    """What the comment shows of earlier runs: the change since the last one and a table."""
    if not history:
        return None
    prev = history[-1]
    delta = score - prev.score
    arrow = "▲" if delta > 0.0005 else ("▼" if delta < -0.0005 else "■")
    rows = []
    for h in reversed(history[-MAX_ROWS:]):  # newest first
        url = safe_url(h.report_url)
        rows.append(
            {
                "score": formatting.pct(h.score),
                "coverage": formatting.pct(h.coverage, 0),
                "commit": md_code(formatting.short_sha(h.head_sha)),
                "when": md_inline(formatting.when(h.finished_at)),
                "link": Markup(f"[report]({url})") if url else Markup("—"),
            }
        )
    now = f" at {md_code(formatting.short_sha(head_sha))}" if head_sha else ""
    return {
        "delta": f"{arrow} {formatting.pts(delta)}",
        "previous": f"{formatting.pct(prev.score)} at {md_code(formatting.short_sha(prev.head_sha))}",
        "now": Markup(f"**{formatting.pct(score)}** now{now}"),
        "rows": rows,
        "count": len(history),
        "more": max(0, len(history) - MAX_ROWS),
    }


@dataclass(frozen=True, slots=True)
class PreviousRun:
    """The previous graded run of the same submitter, paper and mode, linked from the report."""

    href: str  # relative to this report, URL-quoted
    score: float
    head_sha: str | None
    graded_at: str


def _href(target: Path, here: Path) -> str:
    rel = os.path.relpath(target, here)
    return "/".join(quote(part) for part in Path(rel).parts)


def previous_run(results_root: Path | None, folder: Path) -> PreviousRun | None:
    """Among the graded folders under ``results_root``, the latest one graded before ``folder``
    for the same submitter, paper and mode (None without a root, a record, or an earlier run)."""
    if results_root is None or not Path(results_root).is_dir():
        return None
    here = ResultFolder(Path(folder))
    me = here.read_submission()
    if me is None or not me.submitter or not me.paper_id or not me.graded_at:
        return None
    best: tuple[str, ResultFolder, float, str | None] | None = None
    for other in ResultFolder.judged_under(Path(results_root)):
        if other.path.resolve() == here.path.resolve() or not other.report_html.is_file():
            continue
        sub = other.read_submission()
        if sub is None or (sub.submitter, sub.paper_id, sub.mode) != (me.submitter, me.paper_id, me.mode):
            continue
        if not sub.graded_at or sub.graded_at >= me.graded_at:
            continue
        summary = other.read_summary()
        if summary is None:
            continue
        if best is None or sub.graded_at > best[0]:
            best = (sub.graded_at, other, summary.score, sub.head_sha)
    if best is None:
        return None
    graded_at, other, score, sha = best
    return PreviousRun(_href(other.path / REPORT_HTML, here.path), score, sha, graded_at)
