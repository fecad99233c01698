"""The queue's typed records: jobs, what a job knows, how it ended, and the routing actions.

Everything stored in the queue's JSON columns goes through one ``to_json``/``from_json`` pair here;
nothing outside this module reads a job's columns by string key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from bot.grading import GradeOutcome, GradeStatus

JobKind = Literal["grade", "notice", "command"]

ACTIVE_STATES = ("queued", "fetching", "reproducing", "judging", "reporting")
WAITING_STATES = ("dispatched",)
TERMINAL_STATES = ("posted", "failed", "cancelled", "superseded", "infra_error")
ALL_STATES = ACTIVE_STATES + WAITING_STATES + TERMINAL_STATES
CANCELLED_STATES = ("cancelled", "superseded")


class JobCancelled(Exception):
    """The job was cancelled or superseded while it ran."""


def _from_mapping(cls: Any, data: Mapping[str, Any] | None) -> Any:
    """Build a record from stored JSON, ignoring keys this version does not know."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in (data or {}).items() if k in names})


@dataclass(frozen=True, slots=True)
class JobInfo:
    """What a job knows beyond its key: where a grade's submission comes from, a notice's text,
    a command's words. Each kind fills its own fields; the rest stay empty."""

    # grade
    clone_url: str | None = None
    head_ref: str | None = None
    head_repo: str | None = None
    base_ref: str | None = None
    submitter: str | None = None
    html_url: str | None = None
    human_baseline: bool = False
    # notice
    title: str | None = None
    conclusion: str | None = None
    # command
    command: str | None = None
    comment_id: int | None = None
    user: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, False)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> JobInfo:
        info: JobInfo = _from_mapping(cls, data)
        return info


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
        outcome: JobOutcome = _from_mapping(cls, data)
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
        ref: WorkflowRef = _from_mapping(cls, data)
        return ref


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

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON for ``reprobot jobs --json``."""
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        data["info"] = self.info.to_json()
        data["outcome"] = self.outcome.to_json() if self.outcome else None
        data["external"] = self.external.to_json() if self.external else None
        return data


@dataclass(frozen=True, slots=True)
class NewGrade:
    repo: str
    pr: int
    head_sha: str
    paper: str
    rubric_version: str
    mode: str = "full"
    installation_id: int | None = None
    info: JobInfo = field(default_factory=JobInfo)
    supersede_others: bool = True  # a push: older head SHAs of this PR are superseded


@dataclass(frozen=True, slots=True)
class NewNotice:
    """A completed check run with one actionable message (unknown paper, oversized repository)."""

    repo: str
    pr: int
    head_sha: str
    title: str
    message: str
    conclusion: str = "failure"
    installation_id: int | None = None


@dataclass(frozen=True, slots=True)
class NewCommand:
    repo: str
    pr: int
    command: str
    comment_id: int
    user: str
    installation_id: int | None = None


@dataclass(frozen=True, slots=True)
class CancelPR:
    repo: str
    pr: int
    reason: str


@dataclass(frozen=True, slots=True)
class RerunCheck:
    """check_run rerequested: find the job by its check run and grade it again."""

    repo: str
    check_run_id: int
    external_id: str


@dataclass(frozen=True, slots=True)
class WorkflowDone:
    """The reproduction workflow finished for job ``job_id`` (generation ``generation``)."""

    job_id: int
    generation: int
    run_id: int
    conclusion: str | None
    repo: str


Action = NewGrade | NewNotice | NewCommand | CancelPR | RerunCheck | WorkflowDone


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    duplicate: bool
    outcome: str
    job_ids: tuple[int, ...] = ()
