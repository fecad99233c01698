"""The leaderboard over all graded result folders (docs/FORMATS.md, docs/LEADERBOARD.md).

Scans ``RESULTS/**/judge_summary.json`` with ``submission.json`` beside it. One ranking per *track*
(mode x judge protocol; the dummy judge and grades made without the paper are tracks of their own,
marked in every format): per paper, each submitter's mean score over their graded runs with its
standard error (a result over several runs is reported as a mean), beside their best and latest
run; overall, each submitter's mean over every paper of the track (a paper not attempted counts 0,
as in PaperBench's average replication score). Dummy-judge results are left out unless asked for; human
baselines are marked (``human_baseline`` in submission.json, or a configured user list).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from markupsafe import Markup

from bot.report.escaping import md_inline
from bot.report.templating import html_env, markdown_env
from bot.results import SUBMISSION_RECORD
from judge.summary import DUMMY_CAVEAT, NO_PAPER_CAVEAT, GradeSummary

MODES = ("full", "code-dev")
MODE_LABEL = {"full": "Full rubric", "code-dev": "Code-Dev"}
DEFAULT_PROTOCOL = "paperbench"
DUMMY = "dummy judge"


@dataclass(frozen=True, slots=True, order=True)
class Track:
    """One ranking: a mode and a judge protocol. Scores of different tracks are never compared;
    the dummy judge and grades made without the paper are tracks of their own."""

    mode: str
    protocol: str
    no_paper: bool = False

    @property
    def label(self) -> str:
        text = f"{MODE_LABEL.get(self.mode, self.mode)} · {self.protocol}"
        if self.protocol == DUMMY:
            text += " (NOT real grades)"
        elif self.protocol != DEFAULT_PROTOCOL:
            text += " protocol"
        return text + (" · graded WITHOUT the paper" if self.no_paper else "")

    @property
    def marker(self) -> str:
        """What every row of this track carries in every format ('' for a real track)."""
        marks = ["DUMMY" if self.protocol == DUMMY else "", "NO PAPER" if self.no_paper else ""]
        return " ".join(m for m in marks if m)


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
    protocol: str = DEFAULT_PROTOCOL
    report_url: str | None = None

    @property
    def track(self) -> Track:
        """Grades with a caveat rank apart: the dummy judge's and those made without the paper."""
        protocol = DUMMY if DUMMY_CAVEAT in self.caveats else self.protocol
        return Track(self.mode, protocol, NO_PAPER_CAVEAT in self.caveats)


@dataclass(frozen=True, slots=True)
class Standing:
    """A submitter on one paper's board: best, latest, and the mean over every graded run."""

    submitter: str
    human_baseline: bool
    best: Entry
    latest: Entry
    runs: int
    mean: float = 0.0
    se: float | None = None  # standard error of the mean (None for a single run)


@dataclass(frozen=True, slots=True)
class PaperBoard:
    paper_id: str
    mode: str
    standings: tuple[Standing, ...]  # highest mean first


@dataclass(frozen=True, slots=True)
class OverallRow:
    submitter: str
    human_baseline: bool
    mean_best: float
    mean_latest: float
    papers_attempted: int
    papers_total: int
    mean: float = 0.0  # mean over the track's papers of the submitter's mean per paper (0 if not tried)


@dataclass(frozen=True, slots=True)
class Leaderboard:
    boards: dict[Track, tuple[PaperBoard, ...]]  # per-paper boards of each track
    overall: dict[Track, tuple[OverallRow, ...]]  # overall rows of each track, highest mean first
    entries: int
    skipped: tuple[str, ...] = field(default=())  # folders left out, with the reason

    @property
    def tracks(self) -> tuple[Track, ...]:
        """Real tracks first (full before Code-Dev), then the marked ones."""
        return tuple(sorted(self.boards, key=lambda t: (bool(t.marker), MODES.index(t.mode), t)))


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) and v else None


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
        sub = _read(folder / SUBMISSION_RECORD)
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
        if DUMMY_CAVEAT in caveats and not include_dummy:
            skipped.append(f"{rel}: {DUMMY_CAVEAT}")
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
                url=_str(sub.get("url")),
                pr_number=pr if isinstance(pr, int) and not isinstance(pr, bool) else None,
                head_sha=_str(sub.get("head_sha")),
                caveats=caveats,
                folder=rel,
                protocol=(_str(summary.get("protocol")) or DEFAULT_PROTOCOL)[:40],
                report_url=_str(sub.get("report_url")),
            )
        )
    return entries, skipped


def mean_se(scores: list[float]) -> tuple[float, float | None]:
    """The mean and its standard error (sample standard deviation / sqrt(n); None for n < 2)."""
    n = len(scores)
    mean = sum(scores) / n
    if n < 2:
        return mean, None
    var = sum((x - mean) ** 2 for x in scores) / (n - 1)
    return mean, math.sqrt(var / n)


def _standing(submitter: str, runs: list[Entry]) -> Standing:
    best = max(runs, key=lambda e: (e.score, e.graded_at))
    latest = max(runs, key=lambda e: (e.graded_at, e.folder))
    mean, se = mean_se([r.score for r in runs])
    return Standing(submitter, any(r.human_baseline for r in runs), best, latest, len(runs), mean, se)


def build(entries: list[Entry], skipped: Iterable[str] = ()) -> Leaderboard:
    grouped: dict[Track, dict[str, dict[str, list[Entry]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    for e in entries:
        grouped[e.track][e.paper_id][e.submitter].append(e)
    boards: dict[Track, tuple[PaperBoard, ...]] = {}
    overall: dict[Track, tuple[OverallRow, ...]] = {}
    for track, by_paper in grouped.items():
        track_boards = []
        for paper in sorted(by_paper):
            standings = [_standing(who, runs) for who, runs in by_paper[paper].items()]
            standings.sort(key=lambda s: (-s.mean, -s.best.score, s.submitter.lower()))
            track_boards.append(PaperBoard(paper, track.mode, tuple(standings)))
        boards[track] = tuple(track_boards)
        papers = len(track_boards)
        sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
        attempted: dict[str, int] = defaultdict(int)
        human: dict[str, bool] = defaultdict(bool)
        for board in track_boards:
            for s in board.standings:
                acc = sums[s.submitter]
                acc[0] += s.best.score
                acc[1] += s.latest.score
                acc[2] += s.mean
                attempted[s.submitter] += 1
                human[s.submitter] |= s.human_baseline
        rows = [
            OverallRow(u, human[u], v[0] / papers, v[1] / papers, attempted[u], papers, v[2] / papers)
            for u, v in sums.items()
        ]
        rows.sort(key=lambda r: (-r.mean, -r.mean_best, r.submitter.lower()))
        overall[track] = tuple(rows)
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


def _report_link(entry: Entry) -> Markup:
    url = entry.report_url or ""
    if url.startswith("https://") and not any(c in url for c in " \t\n<>()[]\"'`\\"):
        return Markup(f" · [report]({url})")
    return Markup("")


def mean_text(s: Standing | OverallRow) -> str:
    se = getattr(s, "se", None)
    return f"{100 * s.mean:.1f}%" + (f" ± {100 * se:.1f}" if se is not None else "")


def render_markdown(board: Leaderboard, *, title: str = "reprobot leaderboard") -> str:
    return (
        markdown_env()
        .get_template("leaderboard.md.j2")
        .render(lb=board, title=title, link=_link, report_link=_report_link, mean_text=mean_text)
    )


def render_html(board: Leaderboard, *, title: str = "reprobot leaderboard") -> str:
    return html_env().get_template("leaderboard.html.j2").render(lb=board, title=title, mean_text=mean_text)
