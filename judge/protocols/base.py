"""What a judge protocol is: an object that plans a grade's calls and runs them.

The grader asks the registry (``judge.protocols.registry``) once for the configured protocol and
then only talks to it through this seam: ``plan`` turns an executed submission and a rubric into
work items carrying the protocol's own payload, ``planned_calls`` says what those items would send
(``--estimate``), and ``run`` sends an item's calls through the shared ``CallRunner`` and returns
its verdicts. Two honest sides: ``paperbench`` (SimpleJudge's rules) and ``reprobot`` (a cached
prefix, grouped leaves); tests may register a third.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from judge.calls import CallRunner, ItemResult
    from judge.config import JudgeSettings
    from judge.evidence import ExecutedSubmission
    from judge.papers import Paper
    from judge.plan import Plan, PlannedCall, WorkItem
    from judge.rubric import RubricNode

P = TypeVar("P")


class JudgeProtocol(Protocol[P]):
    name: str

    def models(self, settings: JudgeSettings) -> tuple[str, ...]:
        """The models this protocol asks, grading model first."""
        ...

    def leaves_per_call(self, settings: JudgeSettings) -> int: ...

    def plan(
        self,
        sub: ExecutedSubmission,
        paper: Paper,
        rubric: RubricNode,
        settings: JudgeSettings,
        code_only: bool,
    ) -> Plan[P]: ...

    def planned_calls(self, item: WorkItem[P], settings: JudgeSettings) -> list[PlannedCall]:
        """The calls ``run`` would send for this item (ranked files guessed), for ``--estimate``."""
        ...

    def run(self, item: WorkItem[P], calls: CallRunner) -> ItemResult:
        """Send the item's calls; a call that fails for good is a problem of its leaves, not a raise."""
        ...
