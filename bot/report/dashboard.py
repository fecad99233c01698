"""The dashboard of ``reprobot serve``: ``/`` lists every submission with its status (queued,
reproducing, judging, graded, neutral, ...), score, paper, submitter, commit and time, with links
to its report, its log and its pull request; ``/results/`` lists the graded result folders on disk.
Both filter by paper, submitter (and, for ``/``, status) with a plain GET form: no JavaScript, and
at 390 px each row becomes a card.

The rows of ``/`` come from the job queue through a seam (``SubmissionSource``: the server passes
``bot.jobs.listing.submission_rows``), typed as ``SubmissionRow``; ``/results/`` reads the result
folders itself. Every value shown is escaped (Jinja2 autoescape), and the pages are reprobot's own:
a strict Content-Security-Policy (no script at all), ``nosniff``, never framed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from flask import Blueprint, Flask, Response, request

from bot.report import formatting
from bot.report.links import safe_url
from bot.report.templating import html_env
from bot.results import REPORT_HTML, REPRODUCE_LOG, ResultFolder

MAX_ROWS = 500  # newest first; the page says how many more there are
FILTER_CHARS = 200
PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
STATUSES = ("queued", "reproducing", "judging", "graded", "neutral", "rejected", "cancelled", "superseded")


@dataclass(frozen=True, slots=True)
class SubmissionRow:
    """One submission (a grade job of the queue) as the dashboard shows it."""

    job_id: int
    status: str  # one of STATUSES
    stage: str  # what it is doing now, or how it ended
    paper: str
    submitter: str
    repo: str
    pr: int
    head_sha: str
    mode: str
    score: float | None
    coverage: float | None
    updated_at: str  # ISO 8601, UTC
    folder: str | None = None  # the result folder, relative to the results folder (POSIX)
    has_report: bool = False
    has_log: bool = False
    pr_url: str | None = None
    overridden: bool = False


SubmissionSource = Callable[[], Sequence[SubmissionRow]]


def _href(folder: str | None, name: str) -> str | None:
    if not folder:
        return None
    parts = PurePosixPath(folder).parts
    if any(p in ("", ".", "..") for p in parts):
        return None
    return "/results/" + "/".join(quote(p) for p in (*parts, name))


@dataclass(frozen=True, slots=True)
class ShownRow:
    row: SubmissionRow
    score: str
    when: str
    commit: str
    report: str | None
    log: str | None
    pr_url: str | None


def shown(row: SubmissionRow) -> ShownRow:
    return ShownRow(
        row=row,
        score=formatting.pct(row.score) if row.score is not None else "—",
        when=formatting.when(row.updated_at),
        commit=formatting.short_sha(row.head_sha),
        report=_href(row.folder, REPORT_HTML) if row.has_report else None,
        log=_href(row.folder, REPRODUCE_LOG) if row.has_log else None,
        pr_url=safe_url(row.pr_url),
    )


def folder_rows(results_root: Path) -> list[SubmissionRow]:
    """The graded result folders on disk (for ``/results/``), newest first."""
    out: list[SubmissionRow] = []
    root = Path(results_root)
    if not root.is_dir():
        return out
    for result in ResultFolder.judged_under(root):
        summary, sub = result.read_summary(), result.read_submission()
        if summary is None:
            continue
        rel = result.path.relative_to(root).as_posix() if result.path != root else ""
        out.append(
            SubmissionRow(
                job_id=0,
                status="graded",
                stage="",
                paper=(sub.paper_id if sub else None) or summary.paper_id or "?",
                submitter=(sub.submitter if sub else None) or "?",
                repo=(sub.repository if sub else None) or "",
                pr=(sub.pr_number if sub and sub.pr_number is not None else 0),
                head_sha=(sub.head_sha if sub else None) or "",
                mode=summary.mode,
                score=summary.score,
                coverage=summary.coverage,
                updated_at=(sub.graded_at if sub else None) or summary.finished_at or "",
                folder=rel or None,
                has_report=result.report_html.is_file(),
                has_log=result.reproduce_log.is_file(),
                pr_url=sub.url if sub else None,
                overridden=result.read_overrides() is not None,
            )
        )
    out.sort(key=lambda r: (r.updated_at, r.folder or ""), reverse=True)
    return out


def _arg(name: str) -> str:
    return (request.args.get(name) or "")[:FILTER_CHARS]


def _choices(rows: Iterable[SubmissionRow], attr: str) -> list[str]:
    return sorted({str(getattr(r, attr)) for r in rows if getattr(r, attr)}, key=str.lower)


def render_page(rows: Sequence[SubmissionRow], *, title: str, listing: str, filters: dict[str, str]) -> str:
    """The page of ``rows`` filtered by ``filters`` (paper, submitter, status: exact values)."""
    kept = [r for r in rows if all(not want or str(getattr(r, key)) == want for key, want in filters.items())]
    counts = {s: sum(1 for r in rows if r.status == s) for s in STATUSES}
    return (
        html_env()
        .get_template("dashboard.html.j2")
        .render(
            title=title,
            listing=listing,
            rows=[shown(r) for r in kept[:MAX_ROWS]],
            more=max(0, len(kept) - MAX_ROWS),
            total=len(rows),
            shown_count=len(kept),
            filters=filters,
            papers=_choices(rows, "paper"),
            submitters=_choices(rows, "submitter"),
            statuses=[s for s in STATUSES if counts[s]] if listing == "submissions" else [],
            counts=counts,
        )
    )


def _page(html: str) -> Response:
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = PAGE_CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def dashboard_blueprint(results_root: Path, submissions: SubmissionSource) -> Blueprint:
    bp = Blueprint("dashboard", __name__)

    @bp.get("/")
    def index() -> Response:
        filters = {"paper": _arg("paper"), "submitter": _arg("submitter"), "status": _arg("status")}
        html = render_page(
            submissions(), title="reprobot: submissions", listing="submissions", filters=filters
        )
        return _page(html)

    @bp.get("/results/")
    def results_index() -> Response:
        filters = {"paper": _arg("paper"), "submitter": _arg("submitter")}
        rows = folder_rows(results_root)
        return _page(render_page(rows, title="reprobot: graded results", listing="results", filters=filters))

    return bp


def register_dashboard(app: Flask, results_root: Path, submissions: SubmissionSource) -> None:
    """Add ``/`` and ``/results/`` to ``reprobot serve``'s app."""
    app.register_blueprint(dashboard_blueprint(results_root, submissions))
