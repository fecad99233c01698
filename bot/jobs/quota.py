"""Per-submitter quotas: at most ``quotas.graded_runs_per_paper_per_day`` graded runs of one paper
per submitter per UTC day.

Charged: a grade job's first generation that ended *graded*. Not charged: infrastructure failures,
rejections, and every rerun or regrade (a new generation, which only maintainers can order:
``/reprobot rerun|regrade`` need write access, and so does GitHub's Re-run button). Exempt users
(``quotas.exempt_users``) are never limited. A job over the limit is answered with a clear check
run and comment and not graded. Two jobs of one submitter graded at the same moment may both pass
the check (the count is of finished runs).
"""

from __future__ import annotations

from datetime import UTC, datetime

from bot.jobs.queue import JobQueue
from bot.jobs.records import Job
from bot.settings import Settings


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).date().isoformat()


def charged(job: Job) -> bool:
    return job.kind == "grade" and job.generation == 0 and job.outcome is not None and job.outcome.graded


def runs_today(queue: JobQueue, job: Job, now: float) -> int:
    """Charged runs of ``job``'s submitter and paper on today's UTC date, other than ``job`` itself."""
    who = (job.info.submitter or "").lower()
    today = _day(now)
    return sum(
        1
        for other in queue.jobs(kind="grade")
        if other.id != job.id
        and other.paper == job.paper
        and (other.info.submitter or "").lower() == who
        and charged(other)
        and _day(other.created_at) == today
    )


def quota_refusal(settings: Settings, queue: JobQueue, job: Job, now: float | None = None) -> str | None:
    """Why ``job`` may not be graded now, or None when it may."""
    limit = settings.quotas.graded_runs_per_paper_per_day
    who = job.info.submitter or ""
    exempt = {u.lower() for u in settings.quotas.exempt_users}
    if limit is None or job.generation > 0 or job.reuse_from or job.external is not None:
        return None  # not a fresh run, or already past the check (dispatched to a GPU runner)
    if not who or who.lower() in exempt:
        return None
    used = runs_today(queue, job, now if now is not None else datetime.now(UTC).timestamp())
    if used < limit:
        return None
    return (
        f"daily quota reached: {who} already has {used} graded run(s) of paper {job.paper} today (UTC), "
        f"and the limit is {limit} per paper per day. Push again after 00:00 UTC; a maintainer can "
        "`/reprobot rerun` this pull request now (reruns ordered by maintainers are not charged)."
    )
