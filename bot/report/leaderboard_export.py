"""The leaderboard as data: CSV (one row per submitter per paper per track) and JSON (the same rows
plus the overall rankings). Every row carries its track (mode, protocol) and its markers (dummy
judge, graded without the paper, human baseline), so no export can pass a marked row off as real."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from bot.report.leaderboard import Entry, Leaderboard, Track

CSV_FIELDS = (
    "mode", "protocol", "dummy_judge", "no_paper", "paper_id", "rank", "submitter", "human_baseline",
    "runs", "mean", "se", "best", "best_coverage", "latest", "latest_graded_at", "best_pr_url",
    "best_report_url", "latest_pr_url", "latest_report_url",
)  # fmt: skip


def _track(t: Track) -> dict[str, Any]:
    return {"mode": t.mode, "protocol": t.protocol, "dummy_judge": t.dummy, "no_paper": t.no_paper}


def _csv_safe(v: Any) -> Any:
    """Spreadsheet formula injection: text starting with = + - @ is prefixed with a quote."""
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + v
    return v


def _url(e: Entry, attr: str) -> str | None:
    v = getattr(e, attr)
    return v if isinstance(v, str) and v.startswith(("https://", "http://")) else None


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
                        "best_pr_url": _url(s.best, "url"),
                        "best_report_url": _url(s.best, "report_url"),
                        "latest_pr_url": _url(s.latest, "url"),
                        "latest_report_url": _url(s.latest, "report_url"),
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
