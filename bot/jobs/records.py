"""The queue's typed records: jobs, how a grade ended, the Actions run that reproduced one, the
score history, deliveries; and the names of a job's states (the transitions between them are
``bot.jobs.lifecycle``'s).

Everything stored in the queue's JSON columns goes through one ``to_json``/``from_json`` pair here
(``JobInfo``, what a job knows, is the intake's: ``bot.intake.actions``); nothing outside this module
reads a job's columns by string key.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from bot.grading import GradeOutcome, GradeStatus
from bot.intake.actions import JobInfo, from_known_fields

JobKind = Literal["grade", "notice", "command"]

# The states of a job (docs/BOT.md). Active: a worker may take it. Waiting: a GitHub Actions runner
# reproduces it. Terminal: nothing left to do until a rerun starts a new generation.
QUEUED = "queued"
FETCHING = "fetching"
REPRODUCING = "reproducing"
JUDGING = "judging"
REPORTING = "reporting"
DISPATCHED = "dispatched"
POSTED = "posted"
FAILED = "failed"
CANCELLED = "cancelled"
SUPERSEDED = "superseded"
INFRA_ERROR = "infra_error"

STAGE_STATES = (FETCHING, REPRODUCING, JUDGING)  # the Grader's stages, shown live
ACTIVE_STATES = (QUEUED, *STAGE_STATES, REPORTING)
WAITING_STATES = (DISPATCHED,)
TERMINAL_STATES = (POSTED, FAILED, CANCELLED, SUPERSEDED, INFRA_ERROR)
ALL_STATES = ACTIVE_STATES + WAITING_STATES + TERMINAL_STATES
CANCELLED_STATES = (CANCELLED, SUPERSEDED)


class JobCancelled(Exception):
    """The job was cancelled or superseded while it ran."""


@dataclass(frozen=True, slots=True)
class JobOutcome:
    """How grading a job ended, as stored in the queue (the Grader's ``GradeOutcome``, persisted)."""

    status: GradeStatus
    message: str
    result_dir: str | None = None
    score: float | None = None
    coverage: float | None = None
    final: bool = False  # an infra_error with no retry left: report it as it is

    @property
    def graded(self) -> bool:
        return self.status == "graded"

    @property
    def infra_error(self) -> bool:
        return self.status == "infra_error"

    @classmethod
    def from_grade(cls, outcome: GradeOutcome, *, final: bool = False) -> JobOutcome:
        return cls(
            status=outcome.status,
            message=outcome.message,
            result_dir=str(outcome.result_dir),
            score=outcome.score,
            coverage=outcome.coverage,
            final=final,
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobOutcome:
        outcome: JobOutcome = from_known_fields(cls, data)
        return outcome


@dataclass(frozen=True, slots=True)
class WorkflowRef:
    """The GitHub Actions run that reproduced a dispatched job."""

    run_id: int
    conclusion: str | None
    repo: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WorkflowRef:
        ref: WorkflowRef = from_known_fields(cls, data)
        return ref


@dataclass(frozen=True, slots=True)
class DispatchRecord:
    """What the bot dispatched for a job (recorded before the dispatch call): the workflow file's
    path in ``repo``, the ``ref`` it runs on, who dispatches it, and a random ``nonce`` the run's name
    echoes. Only a completed run matching all of it is judged, and its artifact is downloaded from
    ``repo`` only."""

    repo: str
    workflow: str
    ref: str
    nonce: str
    dispatched_at: float = 0.0

    def mismatch(self, repo: str, workflow: str, ref: str, nonce: str) -> str | None:
        """Why a completed run is not this dispatch, or None when every part matches."""
        want_ref = self.ref.removeprefix("refs/heads/").removeprefix("refs/tags/")
        for what, got, want in (("repository", repo, self.repo), ("workflow", workflow, self.workflow),
                                ("ref", ref, want_ref)):  # fmt: skip
            if got != want:
                return f"its {what} {got!r} is not the dispatched {want!r}"
        if not hmac.compare_digest(nonce.encode(), self.nonce.encode()):
            return "its nonce is not the dispatched one"
        return None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DispatchRecord:
        record: DispatchRecord = from_known_fields(cls, data)
        return record


# A grade job's standing under the daily quota (bot.jobs.quota): still to be checked (""), admitted
# and in flight ("held"), graded ("spent"), ended without a grade ("released"), or ordered by a
# maintainer ("exempt"). Held and spent runs count against the submitter's day.
QUOTA_UNCHECKED = ""
QUOTA_HELD = "held"
QUOTA_SPENT = "spent"
QUOTA_RELEASED = "released"
QUOTA_EXEMPT = "exempt"


@dataclass(frozen=True, slots=True)
class Retry:
    """The next attempt the attempts rule (``bot.jobs.lifecycle``) allows: its number (1-based)
    and the wait before it."""

    attempt: int
    delay_s: float


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One finished grade of a PR, for the score history in its comment."""

    job_id: int
    generation: int
    repo: str
    pr: int
    head_sha: str
    mode: str
    score: float
    coverage: float
    finished_at: str


@dataclass(frozen=True, slots=True)
class Delivery:
    delivery_id: str
    event: str
    action: str | None
    received_at: float
    outcome: str


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    kind: JobKind
    repo: str
    pr: int
    head_sha: str
    rubric_version: str
    mode: str
    paper: str | None
    installation_id: int | None
    info: JobInfo
    state: str
    stage: str
    attempts: int
    next_attempt_at: float
    lease_owner: str | None
    lease_expires: float
    generation: int
    check_intent: bool
    check_run_id: int | None
    check_completed: bool
    needs_close: bool
    comment_done: bool
    result_dir: str | None
    reuse_from: str | None
    outcome: JobOutcome | None
    external: WorkflowRef | None
    dispatch: DispatchRecord | None
    quota_key: str | None
    quota: str
    quota_day: str | None
    message: str
    delivery_id: str | None
    created_at: float
    updated_at: float

    @property
    def external_id(self) -> str:
        """The check run's ``external_id``: finds our check run again after a crash."""
        return f"reprobot-job-{self.id}-g{self.generation}"

    @property
    def cancelled(self) -> bool:
        return self.state in CANCELLED_STATES

    @property
    def result_path(self) -> Path | None:
        return Path(self.result_dir) if self.result_dir else None

    @property
    def post_pending(self) -> bool:
        """A finished grade (or a notice) whose check run or comment has not landed yet."""
        if self.kind == "notice":
            return True
        landed = self.check_completed and self.comment_done
        return self.kind == "grade" and self.outcome is not None and not landed

    def quota_settled(self, graded: bool) -> dict[str, str]:
        """The quota column as the job ends: a held run is spent when graded, else released."""
        if self.quota != QUOTA_HELD:
            return {}
        return {"quota": QUOTA_SPENT if graded else QUOTA_RELEASED}

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON for ``reprobot jobs --json``."""
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        data["info"] = self.info.to_json()
        data["outcome"] = self.outcome.to_json() if self.outcome else None
        data["external"] = self.external.to_json() if self.external else None
        data["dispatch"] = self.dispatch.to_json() if self.dispatch else None
        return data
