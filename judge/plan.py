"""The calls a grade makes: work items, the plan, and the order they are sent in.

A ``WorkItem`` grades one leaf (the paperbench protocol: a ranking, a grading and a parsing call,
carried by its ``task``) or a group of leaves in one call (the reprobot protocol: ``prefix`` +
leaf message). ``build_plan`` asks the configured protocol (judge.protocols) for the items; Result
Analysis leaves of a run that touched no whitelisted file get 0 without a call in both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from judge.context import screen
from judge.prompts import Message, leaf_message
from judge.protocols.common import LeafRef

if TYPE_CHECKING:
    from judge.config import JudgeSettings
    from judge.evidence import ExecutedSubmission
    from judge.papers import Paper
    from judge.rubric import RubricNode

PlannedCall = tuple[str, tuple[Message, ...], int]  # (model, messages, expected output tokens)


class LeafTask(Protocol):
    """A protocol's own plan for one item (the paperbench protocol's three calls)."""

    def planned_calls(self, settings: JudgeSettings) -> list[PlannedCall]: ...


@dataclass(frozen=True)
class WorkItem:
    index: int
    family: str  # cd | ce | ra
    leaves: tuple[LeafRef, ...]
    prefix: tuple[Message, ...]
    leaf_files: tuple[tuple[str, str], ...]  # (path, text shown)
    evidence_sha256: str
    keys: tuple[str, ...]  # cache key of each leaf
    protocol: str = "reprobot"
    task: LeafTask | None = None

    @property
    def leaf_ids(self) -> tuple[str, ...]:
        return tuple(ref.leaf.id for ref in self.leaves)

    @property
    def evidence_files(self) -> tuple[str, ...]:
        return tuple(p for p, _ in self.leaf_files)

    @property
    def messages(self) -> tuple[Message, ...]:
        return (*self.prefix, ("user", leaf_message(self.leaves, self.leaf_files)))

    def planned_calls(self, settings: JudgeSettings) -> list[PlannedCall]:
        if self.task is not None:
            return self.task.planned_calls(settings)
        return [(settings.model, self.messages, len(self.leaves) * settings.expected_output_tokens_per_leaf)]

    def only(self, leaf_ids: Sequence[str]) -> WorkItem:
        """The same call (same evidence, same keys) for a subset of its leaves."""
        pairs = [
            (ref, key) for ref, key in zip(self.leaves, self.keys, strict=True) if ref.leaf.id in leaf_ids
        ]
        return replace(self, leaves=tuple(p for p, _ in pairs), keys=tuple(k for _, k in pairs))


@dataclass(frozen=True)
class Plan:
    items: tuple[WorkItem, ...]
    no_call: tuple[LeafRef, ...]  # Result Analysis leaves with no touched outputs: 0 without a call
    leaves: tuple[LeafRef, ...]
    shared_files: tuple[str, ...] = ()
    output_files: tuple[str, ...] = ()
    refused: tuple[tuple[LeafRef, str], ...] = ()  # leaves whose prompt cannot fit (judge.context)
    notes: tuple[str, ...] = ()  # what every output must say (the leaves refused, in one line)


def build_plan(
    sub: ExecutedSubmission,
    paper: Paper,
    rubric: RubricNode,
    settings: JudgeSettings,
    code_only: bool = False,
) -> Plan:
    if settings.protocol == "paperbench":
        from judge.protocols.paperbench import build_paperbench_plan

        plan = build_paperbench_plan(sub, paper, rubric, settings, code_only)
    else:
        from judge.protocols.reprobot import build_reprobot_plan

        plan = build_reprobot_plan(sub, paper, rubric, settings)
    fit = screen(plan.items, settings, lambda item: item.planned_calls(settings))  # judge.context
    return replace(plan, items=fit.kept, refused=fit.refused, notes=(fit.line,) if fit.line else ())


def wave_order(items: Sequence[WorkItem]) -> tuple[list[WorkItem], list[WorkItem], list[WorkItem]]:
    """First call alone (it puts the common prefix in the provider's cache), then the first call of
    each other family together, then everything else."""
    if not items:
        return [], [], []
    first = items[0]
    seen = {first.family}
    second: list[WorkItem] = []
    for item in items[1:]:
        if item.family not in seen:
            seen.add(item.family)
            second.append(item)
    taken = {first.index} | {i.index for i in second}
    return [first], second, [i for i in items if i.index not in taken]
