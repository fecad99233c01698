"""What the intake hands to the queue: typed, frozen action records, one per thing a delivery asks
for (grade a head SHA, post a notice, run a command, cancel a PR's jobs, rerun a check, hand a
finished GitHub Actions reproduction to the judge), and what a delivery's recording returned.

Routing (``bot.intake.routing``) makes them from a webhook payload; the local forge
(``bot.forge.api``) from a push; the queue applies them, each inside one transaction, through the
job state machine (``bot.jobs.lifecycle``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any


def from_known_fields(cls: Any, data: Mapping[str, Any] | None) -> Any:
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
    # who the quota charges: "github:<numeric id>" (a rename keeps it), "forge:<normalised name>" or
    # "forge-id:<identity>" (bot.jobs.quota)
    submitter_key: str | None = None
    html_url: str | None = None
    human_baseline: bool = False
    # notice
    title: str | None = None
    conclusion: str | None = None
    # command
    command: str | None = None
    argument: str | None = None  # the command's text after its word (``override LEAF pass REASON``)
    comment_id: int | None = None
    user: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, False)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> JobInfo:
        info: JobInfo = from_known_fields(cls, data)
        return info


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
    by_maintainer: bool = False  # ordered by a maintainer's command: never charged to the quota


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
    """A ``/reprobot`` command (``bot.intake.commands.Command``: its word and argument text)."""

    repo: str
    pr: int
    command: str
    comment_id: int
    user: str
    installation_id: int | None = None
    argument: str = ""


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
    """The reproduction workflow finished for job ``job_id`` (generation ``generation``): a run of
    ``workflow`` on ``ref`` in ``repo`` whose name carries ``nonce``. The queue accepts it only when
    all of these match what it recorded when it dispatched the job (``bot.jobs.records.DispatchRecord``)."""

    job_id: int
    generation: int
    run_id: int
    conclusion: str | None
    repo: str
    nonce: str = ""
    workflow: str = ""
    ref: str = ""


Action = NewGrade | NewNotice | NewCommand | CancelPR | RerunCheck | WorkflowDone


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    duplicate: bool
    outcome: str
    job_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Routed:
    """What routing made of one delivery: its actions, and a note for the delivery's record."""

    actions: tuple[Action, ...]
    note: str = ""
