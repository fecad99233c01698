"""Per-submitter quotas: at most ``quotas.graded_runs_per_paper_per_day`` runs of one paper per
submitter per UTC day.

Who: the submitter's *key*, fixed at intake (``JobInfo.submitter_key``): ``github:<numeric id>`` on
GitHub (a renamed account keeps its count), ``forge:<name>`` on the local forge with the name
normalised (case and punctuation dropped: ``alice_``, ``A.lice`` and ``Alice`` are one person), or
``forge-id:<identity>`` when the organizer binds pushes to an identity (``forge.identity_env``).

Counted at once: a run holds its place from the moment it is admitted (queued work picked up, a
reproduction running for hours, a dispatched GPU run) and keeps it when graded; a run that ends
without a grade (infrastructure failure, rejection, superseded, cancelled) gives its place back.
Admission is one write transaction of the job state machine (``JobStates.admit``), so concurrent
pushes of one submitter, on any number of workers or processes, cannot all pass.

Not charged: every rerun or regrade ordered by a maintainer (``/reprobot rerun|regrade|code-dev``
need write access, and so does GitHub's Re-run button), and exempt users (``quotas.exempt_users``).
A push of the participant's own (a PR reopened, a head pushed back) is checked again. A job over the
limit is answered with a clear check run and comment and not graded.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from bot.jobs.lifecycle import JobStates
from bot.jobs.records import QUOTA_UNCHECKED, Job
from bot.settings import Settings


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).date().isoformat()


def normalised_name(name: str) -> str:
    """A forge name as the quota sees it: case-folded, letters and digits only."""
    return re.sub(r"[\W_]+", "", name.casefold())


def quota_key(job: Job) -> str:
    """The key the quota charges (jobs queued before keys existed: the lower-cased login)."""
    return job.info.submitter_key or f"login:{(job.info.submitter or '').lower()}"


def quota_refusal(settings: Settings, states: JobStates, job: Job, now: float | None = None) -> str | None:
    """Why ``job`` may not be graded now, or None when it may (admitting it under the quota)."""
    limit = settings.quotas.graded_runs_per_paper_per_day
    who = job.info.submitter or ""
    exempt = {u.lower() for u in settings.quotas.exempt_users}
    if limit is None or job.kind != "grade" or job.quota != QUOTA_UNCHECKED or job.reuse_from:
        return None  # no limit, a maintainer's order, or already admitted (resumed, dispatched)
    if not who or who.lower() in exempt:
        return None
    day = _day(now if now is not None else datetime.now(UTC).timestamp())
    used = states.admit(job, quota_key(job), day, limit)
    if used is None:
        return None
    return (
        f"daily quota reached: {who} already has {used} run(s) of paper {job.paper} graded or in progress "
        f"today (UTC), and the limit is {limit} per paper per day. Push again after 00:00 UTC, or once a "
        "run in progress has ended without a grade; a maintainer can `/reprobot rerun` this pull request "
        "now (reruns ordered by maintainers are not charged)."
    )
