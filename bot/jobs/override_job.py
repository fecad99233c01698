"""An appeal settled through the bot: an organizer's override of one leaf of a PR's latest grade.

``/reprobot override LEAF pass|fail REASON`` (the argument text parsed by
``bot.report.overrides.parse_override``; permission checked by the command job like every command)
and ``reprobot override RESULT_DIR ...`` on the command line both end in ``settle``: the result
folder is rescored (the judge's verdict kept beside who, when and why), its report written again,
the job's outcome rescored through the state machine, and then the grade is posted again as it was
the first time: the check run (title and conclusion from the new score, "overridden" in it), the
PR's comment (edited in place; the history row gets the new score) and the leaderboard.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from bot.github.api import GitHubAPI
from bot.jobs.check_runs import complete_check
from bot.jobs.comment import post_comment
from bot.jobs.context import JobContext
from bot.jobs.grade_job import history_url_of, report_url
from bot.jobs.publish import publish_leaderboard
from bot.jobs.queue import JobQueue
from bot.jobs.records import POSTED, Job
from bot.report import write_html_report
from bot.report.formatting import pct
from bot.report.overrides import (
    OverrideError,
    OverrideRequest,
    OverrideResult,
    apply_override,
    parse_override,
)
from bot.results import ResultFolder
from bot.settings import Settings, results_dir


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def latest_graded(queue: JobQueue, repo: str, pr: int) -> Job | None:
    """The PR's most recent grade job that was graded and posted (the one an override settles)."""
    graded = [
        j
        for j in queue.jobs(repo=repo, pr=pr, kind="grade")
        if j.state == POSTED and j.outcome is not None and j.outcome.graded and j.result_dir
    ]
    return max(graded, key=lambda j: (j.updated_at, j.id), default=None)


def job_for_folder(queue: JobQueue, folder: Path) -> Job | None:
    """The grade job whose result folder this is, if the queue knows it."""
    target = folder.resolve()
    for job in queue.jobs(kind="grade"):
        if job.result_dir and Path(job.result_dir).resolve() == target:
            return job
    return None


def rescore_folder(settings: Settings, folder: Path, request: OverrideRequest, by: str) -> OverrideResult:
    """Override and rescore the folder's grade, and write its report again."""
    result = apply_override(folder, request, by=by, at=now_iso())
    root = results_dir(settings)
    inside = folder.resolve().is_relative_to(root.resolve())
    write_html_report(folder, results_root=root if inside else None)
    return result


def repost(ctx: JobContext, graded: Job) -> Job:
    """Post a graded job's grade again from its (rescored) result folder: the job's outcome takes
    the folder's score, then the check run, the comment and the leaderboard follow."""
    assert graded.outcome is not None and graded.result_dir
    summary = ResultFolder(Path(graded.result_dir)).read_summary()
    if summary is not None:
        outcome = replace(
            graded.outcome,
            score=summary.score,
            coverage=summary.coverage,
            message=f"score {summary.score:.3f}, coverage {100 * summary.coverage:.0f}% (overridden)",
        )
        graded = ctx.states.overridden(graded, outcome)
    url = report_url(ctx.settings, graded)
    if graded.check_run_id is not None:
        complete_check(ctx, graded, url, annotate=False)  # its annotations are there already
    post_comment(ctx, graded, url, history_url_of(ctx.settings, graded))
    publish_leaderboard(ctx, graded)
    return graded


def settle(ctx: JobContext, graded: Job, request: OverrideRequest, by: str) -> OverrideResult:
    assert graded.result_dir
    result = rescore_folder(ctx.settings, Path(graded.result_dir), request, by)
    repost(ctx, graded)
    return result


def result_line(result: OverrideResult, by: str) -> str:
    copies = f" ({result.copies} copies of it)" if result.copies > 1 else ""
    return (
        f"leaf {result.leaf_id!r}{copies} overridden to {result.verdict} by {by} "
        f"(the judge said {result.judge_verdict}): score {pct(result.before)} -> {pct(result.after)}"
    )


def override_command(
    job: Job, gh: GitHubAPI, queue: JobQueue, settings: Settings, argument: str, reply: Callable[[str], None]
) -> str:
    """``/reprobot override LEAF pass|fail REASON`` (the permission is already checked): settle it
    on the PR's latest grade and ``reply`` once. Returns a one-line note for the command job."""
    user = job.info.user or "unknown"
    try:
        request = parse_override(argument)
    except OverrideError as exc:
        reply(f"`/reprobot override`: {exc}")
        return f"override refused: {exc}"[:300]
    graded = latest_graded(queue, job.repo, job.pr)
    if graded is None:
        reply("`/reprobot override`: nothing graded on this pull request yet.")
        return "override refused: nothing graded"
    ctx = JobContext(settings, queue, gh)
    try:
        result = settle(ctx, graded, request, user)
    except OverrideError as exc:
        reply(f"`/reprobot override`: {exc}")
        return f"override refused: {exc}"[:300]
    reply(
        f"✋ Overridden: leaf `{request.leaf_id}` is **{result.verdict}** (the judge said "
        f"{result.judge_verdict}); score {pct(result.before)} → **{pct(result.after)}**. The judge's "
        "verdict is kept beside this one in the grade; the check run, this PR's score comment, the report "
        "and the leaderboard say *overridden*.",
    )
    return result_line(result, user)[:500]
