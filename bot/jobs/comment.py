"""The PR's one score comment: found by its hidden marker, edited in place, with the score history.

One writer per PR at a time (a named lock in the queue); the comment id is recorded once known, and a
comment created just before a crash is found again by its marker.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bot.github.api import MAX_COMMENT, GitHubError, cap, create_once
from bot.jobs.context import JobContext
from bot.jobs.records import Job
from bot.report import COMMENT_MARKER, HistoryEntry, render_pr_comment
from bot.report.links import safe_url

LOCK_WAIT_S = 60.0


def earlier_runs(
    ctx: JobContext, job: Job, report_url_of: Callable[[int, int], str | None]
) -> list[HistoryEntry]:
    """This PR's earlier grades, oldest first (this run left out), each with its report's URL."""
    return [
        HistoryEntry(h.head_sha, h.score, h.coverage, h.finished_at, report_url_of(h.job_id, h.generation))
        for h in ctx.queue.history(job.repo, job.pr)
        if (h.job_id, h.generation) != (job.id, job.generation)
    ]


def comment_body(
    ctx: JobContext,
    job: Job,
    report_url: str | None,
    report_url_of: Callable[[int, int], str | None] = lambda _job, _gen: None,
) -> str:
    outcome = job.outcome
    earlier = earlier_runs(ctx, job, report_url_of)
    if outcome is not None and outcome.graded and job.result_dir:
        body = render_pr_comment(Path(job.result_dir), history=earlier, report_url=report_url)
    else:
        what = (
            "was not graded"
            if outcome is not None and outcome.status == "rejected"
            else "could not be graded (infrastructure)"
        )
        message = outcome.message if outcome is not None else ""
        lines = [f"**reprobot**: `{job.head_sha[:7]}` {what}: {message}"]
        if earlier:
            lines += ["", "<details><summary>Earlier runs of this pull request</summary>", ""]
            lines += ["| Score | Coverage | Commit | Graded | Report |", "| ---: | ---: | --- | --- | --- |"]
            for h in reversed(earlier[-20:]):
                url = safe_url(h.report_url)
                link = f"[report]({url})" if url else "—"
                lines.append(
                    f"| {h.score:.1%} | {h.coverage:.0%} | `{h.head_sha[:7]}` | {h.finished_at} | {link} |"
                )
            lines += ["", "</details>"]
        body = "\n".join(lines) + "\n"
    body = body.removeprefix(COMMENT_MARKER).lstrip("\n")
    return cap(f"{COMMENT_MARKER}\n{score_marker(ctx.settings.bot.check_name)}\n{body}", MAX_COMMENT)


def score_marker(check_name: str) -> str:
    """The hidden marker of the score comment, scoped to the check name (two bots, two comments).
    Only a comment written by this App (or the token's user) and carrying it is ever edited."""
    safe = "".join(ch for ch in check_name if ch.isalnum() or ch in "-_.")
    return f"<!-- reprobot:score-comment:{safe} -->"


def post_comment(
    ctx: JobContext,
    job: Job,
    report_url: str | None,
    report_url_of: Callable[[int, int], str | None] = lambda _job, _gen: None,
) -> None:
    """Write the PR's score comment (once; edited in place afterwards). ``report_url_of(job id,
    generation)``: where an earlier run's report is read, for the history table."""
    outcome = job.outcome
    if outcome is not None and outcome.graded:
        ctx.queue.add_history(
            job,
            outcome.score or 0.0,
            outcome.coverage or 0.0,
            datetime.now(UTC).isoformat(timespec="seconds"),
        )
    lock = f"comment:{job.repo}#{job.pr}"
    holder = f"job-{job.id}"  # the same job resumed after a crash takes its own lock back at once
    deadline = time.monotonic() + LOCK_WAIT_S
    while not ctx.queue.try_lock(lock, holder, ctx.queue.lease_s):
        if time.monotonic() > deadline:
            raise GitHubError(f"comment lock for {job.repo}#{job.pr} is held")
        time.sleep(0.1)
    try:
        body = comment_body(ctx, job, report_url, report_url_of)
        gh = ctx.gh
        marker = score_marker(ctx.settings.bot.check_name)
        cid = ctx.queue.comment_id(job.repo, job.pr) or gh.find_comment(job.repo, job.pr, marker)
        if cid is not None:
            try:
                gh.edit_comment(job.repo, cid, body)
            except GitHubError as exc:
                if "404" not in str(exc):
                    raise
                cid = None  # deleted by someone: post a fresh one
        if cid is None:
            cid = create_once(
                lambda: gh.create_comment(job.repo, job.pr, body),
                lambda: gh.find_comment(job.repo, job.pr, marker),
                backoff_s=ctx.settings.github.backoff_s,
            )
            ctx.step("comment_created", job)  # created on GitHub, id not yet recorded
        ctx.queue.set_comment_id(job.repo, job.pr, cid)
    finally:
        ctx.queue.unlock(lock, holder)
