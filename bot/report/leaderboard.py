"""The leaderboard over all graded result folders (docs/FORMATS.md, docs/LEADERBOARD.md).

Scans ``RESULTS/**/judge_summary.json`` with ``submission.json`` beside it. Per paper and mode
(full and Code-Dev are separate boards): best and latest score per submitter. Overall per mode:
each submitter's mean best score over every paper on that board (a paper not attempted counts 0,
as in PaperBench's average replication score). Dummy-judge results are left out unless asked for;
human baselines are marked (``human_baseline`` in submission.json, or a configured user list).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from markupsafe import Markup

from bot.report.escaping import md_inline
from bot.report.templating import html_env, markdown_env
from judge.summary import GradeSummary

MODES = ("full", "code-dev")
MODE_LABEL = {"full": "Full rubric", "code-dev": "Code-Dev"}


@dataclass(frozen=True, slots=True)
class Entry:
    """One graded result folder."""

    paper_id: str
    submitter: str
    mode: str
    score: float
    coverage: float
    graded_at: str
    human_baseline: bool
    url: str | None
    pr_number: int | None
    head_sha: str | None
    caveats: tuple[str, ...]  # the grade's caveats (dummy judge, no paper): marked in every format
    folder: str


@dataclass(frozen=True, slots=True)
class Standing:
    """A submitter on one paper's board."""

    submitter: str
    human_baseline: bool
    best: Entry
    latest: Entry
    runs: int


@dataclass(frozen=True, slots=True)
class PaperBoard:
    paper_id: str
    mode: str
    standings: tuple[Standing, ...]  # best score first


@dataclass(frozen=True, slots=True)
class OverallRow:
    submitter: str
    human_baseline: bool
    mean_best: float
    mean_latest: float
    papers_attempted: int
    papers_total: int


@dataclass(frozen=True, slots=True)
class Leaderboard:
    boards: dict[str, tuple[PaperBoard, ...]]  # mode -> per-paper boards
    overall: dict[str, tuple[OverallRow, ...]]  # mode -> overall rows, best first
    entries: int
    skipped: tuple[str, ...] = field(default=())  # folders left out, with the reason


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def scan(
    results_dir: Path, *, human_users: Iterable[str] = (), include_dummy: bool = False
) -> tuple[list[Entry], list[str]]:
    """Every usable graded result folder under ``results_dir``, and the ones skipped (why)."""
    humans = {u.lower() for u in human_users}
    entries: list[Entry] = []
    skipped: list[str] = []
    for summary_path in sorted(Path(results_dir).glob("**/judge_summary.json")):
        folder = summary_path.parent
        rel = str(folder.relative_to(results_dir)) if folder != Path(results_dir) else "."
        summary = _read(summary_path)
        sub = _read(folder / "submission.json")
        if summary is None:
            skipped.append(f"{rel}: unreadable judge_summary.json")
            continue
        if sub is None:
            skipped.append(f"{rel}: no readable submission.json")
            continue
        score = _num(summary.get("score"))
        cov = _num(summary.get("coverage"))
        paper = sub.get("paper_id") or summary.get("paper_id")
        submitter = sub.get("submitter")
        if score is None or not isinstance(paper, str) or not isinstance(submitter, str) or not submitter:
            skipped.append(f"{rel}: missing score, paper_id or submitter")
            continue
        caveats = GradeSummary.from_dict(summary).caveats
        if caveats and not include_dummy:
            skipped.append(f"{rel}: {'; '.join(caveats)}")
            continue
        mode = summary.get("mode") or sub.get("mode") or "full"
        pr = sub.get("pr_number")
        entries.append(
            Entry(
                paper_id=paper,
                submitter=submitter,
                mode=mode if mode in MODES else "full",
                score=min(max(score, 0.0), 1.0),
                coverage=min(max(cov if cov is not None else 1.0, 0.0), 1.0),
                graded_at=str(sub.get("graded_at") or summary.get("finished_at") or ""),
                human_baseline=sub.get("human_baseline") is True or submitter.lower() in humans,
                url=sub.get("url") if isinstance(sub.get("url"), str) else None,
                pr_number=pr if isinstance(pr, int) and not isinstance(pr, bool) else None,
                head_sha=sub.get("head_sha") if isinstance(sub.get("head_sha"), str) else None,
                caveats=caveats,
                folder=rel,
            )
        )
    return entries, skipped


def build(entries: list[Entry], skipped: Iterable[str] = ()) -> Leaderboard:
    boards: dict[str, tuple[PaperBoard, ...]] = {}
    overall: dict[str, tuple[OverallRow, ...]] = {}
    for mode in MODES:
        by_paper: dict[str, dict[str, list[Entry]]] = defaultdict(lambda: defaultdict(list))
        for e in entries:
            if e.mode == mode:
                by_paper[e.paper_id][e.submitter].append(e)
        mode_boards = []
        for paper in sorted(by_paper):
            standings = []
            for submitter, runs in by_paper[paper].items():
                best = max(runs, key=lambda e: (e.score, e.graded_at))
                latest = max(runs, key=lambda e: (e.graded_at, e.folder))
                standings.append(
                    Standing(submitter, any(r.human_baseline for r in runs), best, latest, len(runs))
                )
            standings.sort(key=lambda s: (-s.best.score, s.submitter.lower()))
            mode_boards.append(PaperBoard(paper, mode, tuple(standings)))
        if not mode_boards:
            continue
        boards[mode] = tuple(mode_boards)
        papers = len(mode_boards)
        best_sum: dict[str, float] = defaultdict(float)
        latest_sum: dict[str, float] = defaultdict(float)
        attempted: dict[str, int] = defaultdict(int)
        human: dict[str, bool] = defaultdict(bool)
        for board in mode_boards:
            for s in board.standings:
                best_sum[s.submitter] += s.best.score
                latest_sum[s.submitter] += s.latest.score
                attempted[s.submitter] += 1
                human[s.submitter] |= s.human_baseline
        rows = [
            OverallRow(u, human[u], best_sum[u] / papers, latest_sum[u] / papers, attempted[u], papers)
            for u in best_sum
        ]
        rows.sort(key=lambda r: (-r.mean_best, r.submitter.lower()))
        overall[mode] = tuple(rows)
    return Leaderboard(boards, overall, len(entries), tuple(skipped))


def build_leaderboard(
    results_dir: Path, *, human_users: Iterable[str] = (), include_dummy: bool = False
) -> Leaderboard:
    entries, skipped = scan(results_dir, human_users=human_users, include_dummy=include_dummy)
    return build(entries, skipped)


def _link(entry: Entry) -> Markup:
    """A Markdown link to the PR, only for plain https URLs."""
    label = f"#\u200b{entry.pr_number}" if entry.pr_number is not None else "PR"
    url = entry.url or ""
    if url.startswith("https://") and not any(c in url for c in " \t\n<>()[]\"'`\\"):
        return Markup(f"[{label}]({url})")
    return md_inline(label)


def render_markdown(board: Leaderboard, *, title: str = "reprobot leaderboard") -> str:
    return (
        markdown_env()
        .get_template("leaderboard.md.j2")
        .render(lb=board, title=title, modes=MODES, mode_label=MODE_LABEL, link=_link)
    )


def render_html(board: Leaderboard, *, title: str = "reprobot leaderboard") -> str:
    return (
        html_env()
        .get_template("leaderboard.html.j2")
        .render(lb=board, title=title, modes=MODES, mode_label=MODE_LABEL)
    )
