"""The queue's grade jobs as the dashboard's rows (``bot.report.dashboard.SubmissionRow``): the
job's state said the way a participant reads it, with its score, its result folder's links and
whether an organizer overrode it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.jobs.queue import JobQueue
from bot.jobs.records import (
    CANCELLED,
    DISPATCHED,
    FAILED,
    FETCHING,
    INFRA_ERROR,
    JUDGING,
    POSTED,
    QUEUED,
    REPORTING,
    REPRODUCING,
    SUPERSEDED,
    Job,
)
from bot.report.dashboard import MAX_ROWS, SubmissionRow
from bot.results import ResultFolder
from bot.settings import Settings, results_dir

STATUS_OF_STATE = {
    QUEUED: "queued",
    FETCHING: "reproducing",
    REPRODUCING: "reproducing",
    DISPATCHED: "reproducing",
    JUDGING: "judging",
    REPORTING: "judging",
    INFRA_ERROR: "neutral",
    FAILED: "neutral",
    CANCELLED: "cancelled",
    SUPERSEDED: "superseded",
}


def status_of(job: Job) -> str:
    if job.state == POSTED:
        outcome = job.outcome
        if outcome is None or outcome.graded:
            return "graded"
        return "rejected" if outcome.status == "rejected" else "neutral"
    return STATUS_OF_STATE.get(job.state, job.state)


def row_of(job: Job, root: Path) -> SubmissionRow:
    outcome = job.outcome
    folder = Path(job.result_dir) if job.result_dir else None
    rel = None
    if folder is not None and folder.resolve().is_relative_to(root.resolve()):
        rel = folder.resolve().relative_to(root.resolve()).as_posix()
    result = ResultFolder(folder) if folder is not None else None
    status = status_of(job)
    graded = outcome is not None and outcome.score is not None and status in ("graded", "neutral")
    summary = result.read_summary() if result is not None and graded else None  # overrides rescore it
    stage = job.stage if status in ("queued", "reproducing", "judging") else ""
    if status in ("rejected", "neutral") and outcome is not None:
        stage = outcome.message
    return SubmissionRow(
        job_id=job.id,
        status=status,
        stage=stage[:160],
        paper=job.paper or "?",
        submitter=job.info.submitter or "?",
        repo=job.repo,
        pr=job.pr,
        head_sha=job.head_sha,
        mode=job.mode,
        score=summary.score if summary else (outcome.score if graded and outcome else None),
        coverage=summary.coverage if summary else (outcome.coverage if graded and outcome else None),
        updated_at=datetime.fromtimestamp(job.updated_at, UTC).isoformat(timespec="seconds"),
        folder=rel,
        has_report=result is not None and result.report_html.is_file(),
        has_log=result is not None and result.reproduce_log.is_file(),
        pr_url=job.info.html_url,
        overridden=result is not None and result.read_overrides() is not None,
    )


def submission_rows(settings: Settings, queue: JobQueue) -> list[SubmissionRow]:
    """Every grade job, newest first (at most the dashboard's page, plus one to say there are more)."""
    root = results_dir(settings)
    jobs = sorted(queue.jobs(kind="grade"), key=lambda j: j.id, reverse=True)
    return [row_of(j, root) for j in jobs[: MAX_ROWS * 4]]
