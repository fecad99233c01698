"""What judging cost: every result folder's ``judge_summary.json`` ``cost_usd``, totalled by paper,
submitter and UTC day (from ``submission.json``). Every result folder counts, reruns and regrades
included: each one called the judge."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.results import JUDGE_SUMMARY, SUBMISSION_RECORD

DIMENSIONS = ("paper", "submitter", "day")


@dataclass(frozen=True, slots=True)
class CostRow:
    folder: str
    paper: str
    submitter: str
    day: str
    cost_usd: float
    dummy: bool


@dataclass(frozen=True, slots=True)
class CostTotals:
    rows: tuple[CostRow, ...]
    by: dict[str, tuple[tuple[str, float, int], ...]]  # dimension -> (key, total, runs), costliest first
    total: float
    unknown: int  # folders whose cost is not recorded


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def folder_cost(folder: Path) -> float | None:
    cost = _read(folder / JUDGE_SUMMARY).get("cost_usd")
    return float(cost) if isinstance(cost, int | float) and not isinstance(cost, bool) else None


def scan_costs(results_dir: Path) -> CostTotals:
    rows: list[CostRow] = []
    unknown = 0
    for summary_path in sorted(Path(results_dir).glob(f"**/{JUDGE_SUMMARY}")):
        folder = summary_path.parent
        summary, sub = _read(summary_path), _read(folder / SUBMISSION_RECORD)
        cost = folder_cost(folder)
        if cost is None:
            unknown += 1
            continue
        when = str(sub.get("graded_at") or summary.get("finished_at") or "")
        rows.append(
            CostRow(
                folder=str(folder.relative_to(results_dir)),
                paper=str(sub.get("paper_id") or summary.get("paper_id") or "?"),
                submitter=str(sub.get("submitter") or "?"),
                day=when[:10] or "?",
                cost_usd=cost,
                dummy=summary.get("dummy") is True,
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
