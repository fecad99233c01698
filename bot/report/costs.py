"""What judging cost: every judged result folder's ``GradeSummary.cost_usd``, totalled by paper,
submitter and UTC day (from its ``SubmissionRecord``). Every result folder counts, reruns and
regrades included: each one called the judge."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from bot.results import ResultFolder

DIMENSIONS = ("paper", "submitter", "day")


@dataclass(frozen=True, slots=True)
class CostRow:
    folder: str
    paper: str
    submitter: str
    day: str
    cost_usd: float
    caveats: tuple[str, ...]  # the grade's caveats (the dummy judge costs nothing, and says so)


@dataclass(frozen=True, slots=True)
class CostTotals:
    rows: tuple[CostRow, ...]
    by: dict[str, tuple[tuple[str, float, int], ...]]  # dimension -> (key, total, runs), costliest first
    total: float
    unknown: int  # folders whose cost is not recorded


def folder_cost(folder: Path) -> float | None:
    summary = ResultFolder(folder).read_summary()
    return summary.cost_usd if summary is not None else None


def scan_costs(results_dir: Path) -> CostTotals:
    rows: list[CostRow] = []
    unknown = 0
    for result in ResultFolder.judged_under(results_dir):
        summary, sub = result.read_summary(), result.read_submission()
        if summary is None or summary.cost_usd is None:
            unknown += 1
            continue
        when = (sub.graded_at if sub else None) or summary.finished_at or ""
        rows.append(
            CostRow(
                folder=str(result.path.relative_to(results_dir)),
                paper=(sub.paper_id if sub else None) or summary.paper_id or "?",
                submitter=(sub.submitter if sub else None) or "?",
                day=when[:10] or "?",
                cost_usd=summary.cost_usd,
                caveats=summary.caveats,
            )
        )
    by: dict[str, tuple[tuple[str, float, int], ...]] = {}
    for dim in DIMENSIONS:
        acc: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
        for r in rows:
            entry = acc[getattr(r, dim)]
            entry[0] += r.cost_usd
            entry[1] += 1
        by[dim] = tuple(sorted(((k, v[0], int(v[1])) for k, v in acc.items()), key=lambda x: (-x[1], x[0])))
    return CostTotals(tuple(rows), by, sum(r.cost_usd for r in rows), unknown)
