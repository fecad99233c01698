"""The one job state machine: every change of a job's state, attempts, flags and outcome is a named
transition here, each one committed write.

A grade job moves ``queued -> fetching -> reproducing -> judging -> reporting -> posted`` (or is
``dispatched`` to a GitHub Actions runner between ``reproducing`` and ``judging``); it can end
``failed``, ``cancelled``, ``superseded`` or ``infra_error`` instead. On the way it records its
check run (``check_intended``, ``check_created``, ``check_completed``), its comment
(``comment_posted``) and, once cancelled, the closing of its check run (``check_closed``).

The attempts rule lives here only (``retry_left``): an infrastructure failure is retried with the
bot's backoff (``bot.backoff``) while fewer than ``bot.max_attempts`` attempts were made, then shown
as neutral, never as a low score; a grade to post is retried until it lands. One clock, the
store's, writes ``next_attempt_at`` and is the clock ``claim`` compares it with.

Two levels: ``apply_action`` and ``requeue`` change jobs inside a transaction the queue already
holds (a webhook delivery's routing, committed with the delivery); ``JobStates`` runs each
transition of one job in its own transaction of a ``JobStore`` (the queue). A dispatched run is
judged only when it matches the ``DispatchRecord`` kept at dispatch; a grade job's quota standing
(``admit``, then spent or released as it ends) is kept here too.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol

from bot.backoff import backoff_delay
from bot.intake.actions import (
    Action,
    CancelPR,
    JobInfo,
    NewCommand,
    NewGrade,
    NewNotice,
    RerunCheck,
    WorkflowDone,
)
from bot.jobs.records import (
    ACTIVE_STATES,
    CANCELLED,
    CANCELLED_STATES,
    DISPATCHED,
    FAILED,
    INFRA_ERROR,
    JUDGING,
    POSTED,
    QUEUED,
    QUOTA_EXEMPT,
    QUOTA_HELD,
    QUOTA_RELEASED,
    QUOTA_SPENT,
    QUOTA_UNCHECKED,
    REPORTING,
    SUPERSEDED,
    WAITING_STATES,
    DispatchRecord,
    Job,
    JobCancelled,
    JobOutcome,
    Retry,
    WorkflowRef,
)
from bot.jobs.schema import encode_columns, marks

REQUEUE_QUOTA = (QUOTA_UNCHECKED, QUOTA_SPENT, QUOTA_EXEMPT)  # charged again / stays spent / exempt
POST_RETRY_CAP_S = 3600.0  # a pending post is retried at least hourly, for as long as it takes


def retry_left(attempts: int, max_attempts: int) -> bool:
    """The attempts rule: after ``attempts`` failed attempts (the latest included), another one
    follows while fewer than ``max_attempts`` were made."""
    return attempts < max_attempts


class JobStore(Protocol):
    """What the transitions need of the queue (``bot.jobs.queue.JobQueue``)."""

    clock: Callable[[], float]

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]: ...

    def get(self, job_id: int) -> Job: ...


# -- inside the caller's transaction ----------------------------------------------------------------


def _set(db: sqlite3.Connection, job_id: int, now: float, guard: tuple[str, ...] = (), **cols: Any) -> bool:
    """The one write of a job's columns (only while its state is in ``guard``, when given)."""
    cols["updated_at"] = now
    cols = encode_columns(cols)
    sets = ", ".join(f"{k} = ?" for k in cols)
    where = f" AND state IN ({marks(guard)})" if guard else ""
    cur = db.execute(f"UPDATE jobs SET {sets} WHERE id = ?{where}", (*cols.values(), job_id, *guard))
    return cur.rowcount == 1


def _insert(db: sqlite3.Connection, now: float, **cols: Any) -> int:
    cols.setdefault("state", QUEUED)
    cols["created_at"] = cols["updated_at"] = now
    cols = encode_columns(cols)
    names = ", ".join(cols)
    cur = db.execute(f"INSERT INTO jobs ({names}) VALUES ({marks(list(cols))})", tuple(cols.values()))
    assert cur.lastrowid is not None
    return int(cur.lastrowid)


def _end_pr_jobs(
    db: sqlite3.Connection, now: float, state: str, message: str, repo: str, pr: int, but_sha: str | None
) -> int:
    """``cancelled`` / ``superseded``: a PR's grade jobs still to do end; those that made a check run
    are closed by a worker (``needs_close``)."""
    live = ACTIVE_STATES + WAITING_STATES
    other = " AND head_sha != ?" if but_sha is not None else ""
    cur = db.execute(
        f"UPDATE jobs SET state = ?, needs_close = check_intent, lease_expires = 0, message = ?,"
        f" quota = CASE quota WHEN '{QUOTA_HELD}' THEN '{QUOTA_RELEASED}' ELSE quota END,"
        f" updated_at = ? WHERE kind = 'grade' AND repo = ? AND pr = ?{other}"
        f" AND state IN ({marks(live)})",
        (state, message, now, repo, pr, *((but_sha,) if but_sha is not None else ()), *live),
    )
    return cur.rowcount


def requeue(db: sqlite3.Connection, job_id: int, now: float, *, reuse: bool, charge: bool = False) -> bool:
    """``queued`` again under a new generation (a rerun; ``reuse``: judge the existing reproduction
    again). ``charge``: the participant's own doing (a PR reopened, a head pushed back), checked
    against the quota again; otherwise a maintainer's order, exempt (a spent run stays spent).
    False while the job is still active."""
    row = db.execute("SELECT state, result_dir FROM jobs WHERE id = ?", (job_id,)).fetchone()
    if row is None or row["state"] in ACTIVE_STATES + WAITING_STATES:
        return False
    db.execute(
        "UPDATE jobs SET state = ?, stage = '', attempts = 0, next_attempt_at = 0, lease_owner = NULL,"
        " lease_expires = 0, generation = generation + 1, check_intent = 0, check_run_id = NULL,"
        " check_completed = 0, needs_close = 0, comment_done = 0, result_dir = NULL, outcome = NULL,"
        " external = NULL, dispatch = NULL, message = '', reuse_from = ?, updated_at = ?,"
        " quota = CASE WHEN ? THEN ? WHEN quota = ? THEN quota ELSE ? END WHERE id = ?",
        (QUEUED, row["result_dir"] if reuse else None, now, charge, *REQUEUE_QUOTA, job_id),
    )
    return True


def apply_action(
    db: sqlite3.Connection, act: Action, delivery: str | None, now: float
) -> tuple[int | None, str]:
    """Apply one routing action inside the caller's transaction: (job id or None, a note)."""
    if isinstance(act, NewGrade):
        if act.supersede_others:
            message = f"superseded by {act.head_sha[:12]}"
            _end_pr_jobs(db, now, SUPERSEDED, message, act.repo, act.pr, but_sha=act.head_sha)
        existing = db.execute(
            "SELECT id, state FROM jobs WHERE kind = 'grade' AND repo = ? AND pr = ? AND head_sha = ?"
            " AND rubric_version = ? AND mode = ?",
            (act.repo, act.pr, act.head_sha, act.rubric_version, act.mode),
        ).fetchone()
        if existing is not None:
            if existing["state"] in CANCELLED_STATES:  # reopened, or pushed back
                requeue(db, int(existing["id"]), now, reuse=False, charge=not act.by_maintainer)
                return int(existing["id"]), f"requeued job {existing['id']}"
            return None, f"job {existing['id']} exists ({existing['state']})"
        jid = _insert(
            db, now, kind="grade", repo=act.repo, pr=act.pr, head_sha=act.head_sha, paper=act.paper,
            rubric_version=act.rubric_version, mode=act.mode, installation_id=act.installation_id,
            info=act.info, delivery_id=delivery, quota=QUOTA_EXEMPT if act.by_maintainer else QUOTA_UNCHECKED,
        )  # fmt: skip
        return jid, f"queued job {jid}"
    if isinstance(act, NewNotice):
        jid = _insert(
            db, now, kind="notice", repo=act.repo, pr=act.pr, head_sha=act.head_sha,
            installation_id=act.installation_id, delivery_id=delivery, message=act.message,
            info=JobInfo(title=act.title, conclusion=act.conclusion),
        )  # fmt: skip
        return jid, f"notice job {jid}: {act.title}"
    if isinstance(act, NewCommand):
        jid = _insert(
            db, now, kind="command", repo=act.repo, pr=act.pr, head_sha="",
            installation_id=act.installation_id, delivery_id=delivery,
            info=JobInfo(command=act.command, argument=act.argument or None, comment_id=act.comment_id,
                         user=act.user),
        )  # fmt: skip
        return jid, f"command job {jid}: {act.command}"
    if isinstance(act, CancelPR):
        n = _end_pr_jobs(db, now, CANCELLED, act.reason, act.repo, act.pr, but_sha=None)
        return None, f"cancelled {n} job(s)"
    if isinstance(act, RerunCheck):
        row = db.execute(
            "SELECT id FROM jobs WHERE repo = ?"
            " AND (check_run_id = ? OR ? LIKE 'reprobot-job-' || id || '-g%')"
            " ORDER BY id DESC LIMIT 1",
            (act.repo, act.check_run_id, act.external_id),
        ).fetchone()
        if row is None:
            return None, f"no job for check run {act.check_run_id}"
        jid = int(row["id"])
        return (jid, f"rerun job {jid}") if requeue(db, jid, now, reuse=False) else (None, "busy")
    if isinstance(act, WorkflowDone):
        return _workflow_done(db, act, now)
    raise TypeError(f"unknown action {act!r}")  # pragma: no cover


def _workflow_done(db: sqlite3.Connection, act: WorkflowDone, now: float) -> tuple[int | None, str]:
    """``dispatched -> judging`` for the very run the bot dispatched; anything else changes nothing."""
    row = db.execute("SELECT state, generation, dispatch FROM jobs WHERE id = ?", (act.job_id,)).fetchone()
    if row is None or row["state"] != DISPATCHED or int(row["generation"]) != act.generation:
        return None, f"stale workflow run {act.run_id}"
    record = DispatchRecord.from_json(json.loads(row["dispatch"])) if row["dispatch"] else None
    if record is None:
        return None, f"workflow run {act.run_id} ignored: nothing was dispatched for it"
    mismatch = record.mismatch(act.repo, act.workflow, act.ref, act.nonce)
    if mismatch is not None:
        return None, f"workflow run {act.run_id} ignored: {mismatch}"
    ref = WorkflowRef(act.run_id, act.conclusion, record.repo)  # its artifact: from that repository only
    _set(db, act.job_id, now, (DISPATCHED,), state=JUDGING, stage=JUDGING, external=ref, lease_expires=0,
         next_attempt_at=0)  # fmt: skip
    return act.job_id, f"workflow run {act.run_id} done"


# -- one job, one transaction per transition --------------------------------------------------------


class JobStates:
    """The named transitions of one job at a time, with the attempts rule of ``bot.max_attempts``
    and the first retry after ``bot.retry_backoff_s``."""

    def __init__(self, store: JobStore, *, max_attempts: int, backoff_s: float) -> None:
        self.store = store
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s

    def _move(self, job_id: int, guard: tuple[str, ...] = (), **cols: Any) -> bool:
        with self.store.transaction() as db:
            return _set(db, job_id, self.store.clock(), guard, **cols)

    def _to(self, job: Job, **cols: Any) -> Job:
        self._move(job.id, **cols)
        return self.store.get(job.id)

    # -- reads the steps need ---------------------------------------------------------------------
    def still_wanted(self, job_id: int) -> Job:
        """The job as stored now; raises JobCancelled when it was cancelled or superseded meanwhile."""
        job = self.store.get(job_id)
        if job.cancelled:
            raise JobCancelled()
        return job

    def next_retry(self, job: Job) -> Retry | None:
        """The retry the attempts rule allows after the attempt that just failed, if any."""
        attempt = job.attempts + 1
        if not retry_left(attempt, self.max_attempts):
            return None
        return Retry(attempt, backoff_delay(self.backoff_s, attempt))

    # -- the check run and the comment ------------------------------------------------------------
    def check_intended(self, job: Job) -> Job:
        """About to create the check run: after a crash, look for it before creating another."""
        return self._to(job, check_intent=1)

    def check_created(self, job: Job, check_run_id: int) -> Job:
        return self._to(job, check_run_id=check_run_id)

    def check_completed(self, job: Job) -> Job:
        return self._to(job, check_completed=1)

    def comment_posted(self, job: Job) -> Job:
        return self._to(job, comment_done=1)

    def check_closed(self, job: Job) -> Job:
        """A cancelled or superseded job's check run was closed."""
        return self._to(job, needs_close=0)

    # -- grading ----------------------------------------------------------------------------------
    def enter_stage(self, job_id: int, state: str, detail: str) -> bool:
        """``fetching`` / ``reproducing`` / ``judging`` (with a live detail); False when the job was
        cancelled or superseded meanwhile."""
        return self._move(job_id, ACTIVE_STATES, state=state, stage=detail)

    def dispatch_intended(self, job: Job, record: DispatchRecord) -> Job:
        """About to dispatch the reproduction workflow: what is dispatched (with its nonce) is on
        record first, so the run that reports back can be told from any other."""
        return self._to(job, dispatch=record)

    def dispatched(self, job: Job) -> Job:
        """Parked while a GitHub Actions runner reproduces it (``WorkflowDone`` or
        ``expire_dispatched`` wakes it)."""
        return self._to(job, state=DISPATCHED, stage="waiting for a GPU runner")

    def reporting(self, job: Job, outcome: JobOutcome, result_dir: str | None = None) -> Job:
        """The grade is known (graded, rejected, refused by a quota, or a final infrastructure
        failure): what is left is to report it."""
        cols: dict[str, Any] = {"state": REPORTING, "stage": "", "outcome": outcome}
        if result_dir is not None:
            cols["result_dir"] = result_dir
        return self._to(job, **cols)

    def done(self, job: Job, outcome: JobOutcome) -> Job:
        """Reported: ``posted``, or ``infra_error`` for a grade that could not be made. A run held
        under the quota is spent when graded, released otherwise."""
        final = INFRA_ERROR if outcome.infra_error else POSTED
        settled = job.quota_settled(outcome.graded)
        return self._to(job, state=final, stage="", message=outcome.message[:500], **settled)

    # -- the daily quota (``bot.jobs.quota`` decides the key, the day and the limit) --------------
    def admit(self, job: Job, key: str, day: str, limit: int) -> int | None:
        """Hold one of ``key``'s ``limit`` runs of ``job.paper`` on ``day`` for ``job``: None when
        admitted, else how many are held or spent. One write transaction: concurrent jobs of one
        submitter (other workers, other processes) are counted one after the other."""
        with self.store.transaction() as db:
            used = db.execute(
                "SELECT COUNT(*) FROM jobs WHERE kind = 'grade' AND quota_key = ? AND paper IS ?"
                " AND quota_day = ? AND quota IN (?, ?) AND id != ?",
                (key, job.paper, day, QUOTA_HELD, QUOTA_SPENT, job.id),
            ).fetchone()[0]
            if used >= limit:
                return int(used)
            _set(db, job.id, self.store.clock(), quota=QUOTA_HELD, quota_key=key, quota_day=day)
            return None

    def overridden(self, job: Job, outcome: JobOutcome) -> Job:
        """An organizer overrode a leaf: the rescored outcome (state kept; check and comment again)."""
        return self._to(job, outcome=outcome, message=outcome.message[:500])

    def notice_posted(self, job: Job) -> Job:
        return self._to(job, state=POSTED, check_completed=1)

    def command_done(self, job: Job, note: str) -> Job:
        return self._to(job, state=POSTED, message=note)

    def retry_infra(self, job: Job, retry: Retry, message: str) -> Job:
        """An infrastructure failure of the grade itself: ``queued`` again from the start (reproduced
        or dispatched anew) after the backoff."""
        return self._to(
            job, state=QUEUED, stage="", attempts=retry.attempt, outcome=None, external=None, dispatch=None,
            next_attempt_at=self.store.clock() + retry.delay_s,
            message=f"infra retry {retry.attempt}: {message}"[:500],
        )  # fmt: skip

    def retry_now(self, job_id: int) -> bool:
        """A job waiting for its backoff is due at once (an organizer's nudge)."""
        return self._move(job_id, next_attempt_at=0)

    # -- a step raised ----------------------------------------------------------------------------
    def after_error(self, job: Job, message: str) -> Job:
        """An unexpected failure of a step (infrastructure trouble, never charged to the submitter):
        a grade to post (or a notice) is retried until it lands; otherwise retried while the
        attempts rule allows, then a grade is reported neutral and any other job ``failed``."""
        attempts = job.attempts + 1
        if job.state not in ACTIVE_STATES:
            return job
        now = self.store.clock()
        if job.post_pending:
            delay = backoff_delay(self.backoff_s, attempts, cap_s=POST_RETRY_CAP_S)
            return self._to(
                job, state=REPORTING if job.kind == "grade" else job.state, attempts=attempts,
                next_attempt_at=now + delay,
                message=f"posting pending, attempt {attempts}, next in {delay:.0f} s: {message}"[:500],
            )  # fmt: skip
        if retry_left(attempts, self.max_attempts):
            delay = backoff_delay(self.backoff_s, attempts)
            return self._to(
                job, state=QUEUED, attempts=attempts, next_attempt_at=now + delay,
                message=f"retry {attempts}/{self.max_attempts - 1} in {delay:.0f} s: {message}",
            )  # fmt: skip
        if job.kind == "grade" and job.outcome is None:
            outcome = JobOutcome(
                "infra_error", f"could not grade: {message}", result_dir=job.result_dir, final=True
            )
            return self._to(job, state=REPORTING, attempts=0, outcome=outcome, message=message)
        return self._to(job, state=FAILED, attempts=attempts, message=message, **job.quota_settled(False))

    # -- dispatched runs that never report back ---------------------------------------------------
    def expire_dispatched(self, timeout_s: float) -> list[int]:
        """Dispatched jobs whose workflow never reported back within ``timeout_s``: queued again
        (dispatched anew) while the attempts rule allows, else given a final ``infra_error``
        outcome (a neutral check). Returns their ids."""
        note = f"the reproduction workflow did not report back within {timeout_s:.0f} s"
        expired: list[int] = []
        with self.store.transaction() as db:
            now = self.store.clock()
            rows = db.execute(
                "SELECT id, attempts FROM jobs WHERE state = ? AND updated_at < ?",
                (DISPATCHED, now - timeout_s),
            ).fetchall()
            for row in rows:
                attempts = int(row["attempts"]) + 1
                if retry_left(attempts, self.max_attempts):
                    cols: dict[str, Any] = {
                        "state": QUEUED, "external": None, "dispatch": None,
                        "message": f"{note}; dispatching again",
                    }  # fmt: skip
                else:
                    outcome = JobOutcome("infra_error", f"could not grade: {note}", final=True)
                    cols = {"state": REPORTING, "outcome": outcome, "message": note}
                cols.update(stage="", attempts=attempts, next_attempt_at=0, lease_expires=0)
                _set(db, int(row["id"]), now, **cols)
                expired.append(int(row["id"]))
        return expired
