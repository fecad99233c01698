"""The leaderboard over all graded result folders (docs/FORMATS.md, docs/LEADERBOARD.md).

Scans every judged result folder (``ResultFolder.judged_under``: its ``GradeSummary`` with the
``SubmissionRecord`` beside it). One ranking per *track* (mode x judge protocol; a grade whose
caveats make it incomparable, the dummy judge's or one made without the paper, ranks in a track of
its own, marked in every format): per paper, each submitter's mean score over their graded runs with its
standard error (a result over several runs is reported as a mean), beside their best and latest
run; overall, each submitter's mean over every paper of the track (a paper not attempted counts 0,
as in PaperBench's average replication score). Dummy-judge results are left out unless asked for; human
baselines are marked (``human_baseline`` in submission.json, or a configured user list); a grade an
organizer overrode (``overrides.json``) is marked "overridden" in every format.

Every best and latest score links its report: the report's own address when it has an http(s) one
(``submission.json``), else the folder's ``report.html`` relative to where the page is read
(``results_base``: the results folder as seen from the page), else a ``file:`` address. In HTML the
columns sort (a script of reprobot's own, allowed by its hash) and a paper filter shows one paper's
board; without JavaScript the page lists every board with a link to each paper.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from markupsafe import Markup

from bot.report.formatting import pct
from bot.report.links import safe_url
from bot.report.scripts import page_csp, script_markup
from bot.report.templating import html_env, markdown_env
from bot.results import REPORT_HTML, ResultFolder
from judge.summary import DUMMY_CAVEAT, NO_PAPER_CAVEAT

MODES = ("full", "code-dev")
MODE_LABEL = {"full": "Full rubric", "code-dev": "Code-Dev"}
DEFAULT_PROTOCOL = "paperbench"
# The caveats that put a grade in a track of its own (its scores compare with no real grade's), and
# the mark its rows carry in every format. Other caveats (a score zeroed by PaperBench's monitor)
# are printed by the report and leave the grade in its track.
RANKED_APART = {DUMMY_CAVEAT: "DUMMY", NO_PAPER_CAVEAT: "NO PAPER"}


@dataclass(frozen=True, slots=True, order=True)
class Track:
    """One ranking: a mode, a judge protocol and the caveats that rank a grade apart. Scores of
    different tracks are never compared."""

    mode: str
    protocol: str
    caveats: tuple[str, ...] = ()  # of RANKED_APART, in its order

    @property
    def dummy(self) -> bool:
        return DUMMY_CAVEAT in self.caveats

    @property
    def no_paper(self) -> bool:
        return NO_PAPER_CAVEAT in self.caveats

    @property
    def label(self) -> str:
        text = f"{MODE_LABEL.get(self.mode, self.mode)} · {self.protocol}"
        if self.protocol != DEFAULT_PROTOCOL:
            text += " protocol"
        if self.dummy:
            text += " · dummy judge (NOT real grades)"
        return text + (" · graded WITHOUT the paper" if self.no_paper else "")

    @property
    def marker(self) -> str:
        """What every row of this track carries in every format ('' for a real track)."""
        return " ".join(RANKED_APART[c] for c in self.caveats)


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
    overridden: int = 0  # leaves an organizer overrode in this grade
    has_report: bool = False  # report.html sits in the folder

    @property
    def track(self) -> Track:
        """Grades with a caveat of ``RANKED_APART`` rank apart: the dummy judge's, those made
        without the paper."""
        return Track(self.mode, self.protocol, tuple(c for c in RANKED_APART if c in self.caveats))


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
    overridden_runs: int = 0  # runs with an organizer's override

    @property
    def overridden(self) -> bool:
        return self.overridden_runs > 0


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


def scan(
    results_dir: Path, *, human_users: Iterable[str] = (), include_dummy: bool = False
) -> tuple[list[Entry], list[str]]:
    """Every usable graded result folder under ``results_dir``, and the ones skipped (why)."""
    humans = {u.lower() for u in human_users}
    entries: list[Entry] = []
    skipped: list[str] = []
    for result in ResultFolder.judged_under(results_dir):
        folder = result.path
        rel = str(folder.relative_to(results_dir)) if folder != Path(results_dir) else "."
        summary, sub, overrides = result.read_summary(), result.read_submission(), result.read_overrides()
        if summary is None:
            skipped.append(f"{rel}: unreadable {result.judge_summary.name} (or no score)")
            continue
        if sub is None:
            skipped.append(f"{rel}: no readable {result.submission_record.name}")
            continue
        paper = sub.paper_id or summary.paper_id
        if not paper or not sub.submitter:
            skipped.append(f"{rel}: missing paper_id or submitter")
            continue
        if DUMMY_CAVEAT in summary.caveats and not include_dummy:
            skipped.append(f"{rel}: {DUMMY_CAVEAT}")
            continue
        entries.append(
            Entry(
                paper_id=paper,
                submitter=sub.submitter,
                mode=summary.mode if summary.mode in MODES else "full",
                score=min(max(summary.score, 0.0), 1.0),
                coverage=min(max(summary.coverage, 0.0), 1.0),
                graded_at=sub.graded_at or summary.finished_at or "",
                human_baseline=sub.human_baseline or sub.submitter.lower() in humans,
                url=sub.url,
                pr_number=sub.pr_number,
                head_sha=sub.head_sha,
                caveats=summary.caveats,
                folder=rel,
                protocol=summary.protocol[:40],
                report_url=sub.report_url,
                overridden=len(overrides.leaves) if overrides else 0,
                has_report=result.report_html.is_file(),
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
    overridden = sum(1 for r in runs if r.overridden)
    human = any(r.human_baseline for r in runs)
    return Standing(submitter, human, best, latest, len(runs), mean, se, overridden)


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
    """A Markdown link to the PR, only for plain https URLs ("PR 3": no issue reference is formed)."""
    label = f"PR {entry.pr_number}" if entry.pr_number is not None else "PR"
    url = entry.url or ""
    if url.startswith("https://") and not any(c in url for c in " \t\n<>()[]\"'`\\"):
        return Markup(f"[{label}]({url})")
    return Markup(label)


def report_href(entry: Entry, results_base: str | None = None) -> str | None:
    """Where a reader of the page finds the entry's report (see the module's text), or None."""
    url = safe_url(entry.report_url)
    if url:
        return url
    if results_base is not None and entry.has_report:
        parts = (*PurePosixPath(entry.folder).parts, REPORT_HTML)
        return results_base + "/".join(quote(p) for p in parts)
    url = entry.report_url or ""
    if url.startswith("file:///") and not any(c in url for c in " \t\n<>()[]\"'`\\"):
        return url
    return None


def _report_link(entry: Entry) -> Markup:
    url = report_href(entry)
    return Markup(f" · [report]({url})") if url else Markup("")


def mean_text(s: Standing | OverallRow) -> str:
    se = getattr(s, "se", None)
    return f"{100 * s.mean:.1f}%" + (f" ± {100 * se:.1f}" if se is not None else "")


def render_markdown(board: Leaderboard, *, title: str = "reprobot leaderboard") -> str:
    return (
        markdown_env()
        .get_template("leaderboard.md.j2")
        .render(lb=board, title=title, link=_link, report_link=_report_link, mean_text=mean_text)
    )


def render_html(
    board: Leaderboard, *, title: str = "reprobot leaderboard", results_base: str | None = None
) -> str:
    """The page; ``results_base``: the results folder as seen from it (e.g. ``"results/"`` for the
    page ``reprobot serve`` shows at ``/leaderboard``; None when it is read elsewhere)."""

    def href(entry: Entry) -> str | None:
        return report_href(entry, results_base)

    return (
        html_env()
        .get_template("leaderboard.html.j2")
        .render(
            lb=board,
            title=title,
            mean_text=mean_text,
            href=href,
            pct=pct,
            csp=Markup(page_csp("leaderboard")),
            script=script_markup("leaderboard"),
        )
    )
