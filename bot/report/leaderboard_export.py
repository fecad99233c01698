"""The leaderboard as data: CSV (one row per submitter per paper per track) and JSON (the same rows
plus the overall rankings), and as plain text for a terminal. Every row carries its track (mode,
protocol) and its markers (dummy judge, graded without the paper, human baseline, overridden by an
organizer), so no export can pass a marked row off as real. Report addresses are http(s) or, for a
folder read on this machine (the local forge's demo), ``file:``."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from bot.report.escaping import clip
from bot.report.formatting import pct, when
from bot.report.leaderboard import Entry, Leaderboard, Track, mean_text, report_href

CSV_FIELDS = (
    "mode", "protocol", "dummy_judge", "no_paper", "paper_id", "rank", "submitter", "human_baseline",
    "runs", "mean", "se", "best", "best_coverage", "latest", "latest_graded_at", "best_pr_url",
    "best_report_url", "latest_pr_url", "latest_report_url", "best_overridden", "latest_overridden",
)  # fmt: skip


def _track(t: Track) -> dict[str, Any]:
    return {"mode": t.mode, "protocol": t.protocol, "dummy_judge": t.dummy, "no_paper": t.no_paper}


def _csv_safe(v: Any) -> Any:
    """Spreadsheet formula injection: text starting with = + - @ is prefixed with a quote."""
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + v
    return v


def _pr_url(e: Entry) -> str | None:
    return e.url if isinstance(e.url, str) and e.url.startswith(("https://", "http://")) else None


def rows(board: Leaderboard) -> list[dict[str, Any]]:
    out = []
    for t in board.tracks:
        for b in board.boards[t]:
            for rank, s in enumerate(b.standings, 1):
                out.append(
                    {
                        **_track(t),
                        "paper_id": b.paper_id,
                        "rank": rank,
                        "submitter": s.submitter,
                        "human_baseline": s.human_baseline,
                        "runs": s.runs,
                        "mean": round(s.mean, 6),
                        "se": None if s.se is None else round(s.se, 6),
                        "best": round(s.best.score, 6),
                        "best_coverage": round(s.best.coverage, 6),
                        "latest": round(s.latest.score, 6),
                        "latest_graded_at": s.latest.graded_at,
                        "best_pr_url": _pr_url(s.best),
                        "best_report_url": report_href(s.best),
                        "latest_pr_url": _pr_url(s.latest),
                        "latest_report_url": report_href(s.latest),
                        "best_overridden": s.best.overridden > 0,
                        "latest_overridden": s.latest.overridden > 0,
                    }
                )
    return out


def to_csv(board: Leaderboard) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows(board):
        writer.writerow({k: _csv_safe(v) for k, v in row.items()})
    return buf.getvalue()


def to_json(board: Leaderboard) -> str:
    overall = [
        {
            **_track(t),
            "rank": i,
            "submitter": r.submitter,
            "human_baseline": r.human_baseline,
            "mean": round(r.mean, 6),
            "mean_best": round(r.mean_best, 6),
            "mean_latest": round(r.mean_latest, 6),
            "papers_attempted": r.papers_attempted,
            "papers_total": r.papers_total,
        }  # fmt: skip
        for t in board.tracks
        for i, r in enumerate(board.overall[t], 1)
    ]
    data = {"entries": board.entries, "papers": rows(board), "overall": overall}
    data["skipped"] = list(board.skipped)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _cell(text: object, limit: int = 40) -> str:
    return " ".join(clip(text, limit).split())


def _columns(rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for r in rows:
        cells = [
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        out.append("  ".join(cells).rstrip())
    return out


def to_text(board: Leaderboard, *, title: str = "reprobot leaderboard") -> str:
    """The leaderboard for a terminal: aligned columns, plain text (no Markdown escapes); marks as
    words (DUMMY, NO PAPER, human, overridden)."""
    lines = [title, f"{board.entries} graded result(s); mean ± SE over each submitter's runs"]
    if not board.boards:
        return "\n".join([*lines, "", "No graded results yet."]) + "\n"
    for t in board.tracks:
        lines += ["", f"== {t.label}" + (f"  [{t.marker}]" if t.marker else "")]
        for b in board.boards[t]:
            rows = [["#", "submitter", "mean ± SE", "runs", "best", "latest", "graded", "report (best)"]]
            for rank, s in enumerate(b.standings, 1):
                who = _cell(s.submitter) + (" (human)" if s.human_baseline else "")
                best = pct(s.best.score) + (" overridden" if s.best.overridden else "")
                latest = pct(s.latest.score) + (" overridden" if s.latest.overridden else "")
                rows.append(
                    [str(rank), who, mean_text(s), str(s.runs), best, latest, when(s.latest.graded_at),
                     _cell(report_href(s.best) or "-", 200)]
                )  # fmt: skip
            lines += ["", f"-- {_cell(b.paper_id, 80)}", *_columns(rows, {0, 2, 3, 4, 5})]
    return "\n".join(lines) + "\n"
