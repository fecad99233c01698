"""The calls a grade makes: work items, the plan, and the order they are sent in.

A protocol (``judge.protocols``) turns an executed submission and a rubric into a ``Plan``: work
items, each grading one leaf or a group of leaves and carrying the protocol's own ``payload`` (what
its calls need), and the Result Analysis leaves that get 0 without a call. The grader sends the
items in ``wave_order`` and hands each back to the protocol that planned it; nothing here knows
which protocol that is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from judge.protocols.common import LeafRef, Message

PlannedCall = tuple[str, tuple[Message, ...], int]  # (model, messages, expected output tokens)
P = TypeVar("P")


@dataclass(frozen=True)
class WorkItem(Generic[P]):
    index: int
    family: str  # cd | ce | ra
    leaves: tuple[LeafRef, ...]
    keys: tuple[str, ...]  # cache key of each leaf
    evidence_sha256: str
    evidence_files: tuple[
        str, ...
    ]  # what the leaf is shown (the paperbench protocol: decided by its ranking)
    payload: P  # the protocol's own plan for this item

    @property
    def leaf_ids(self) -> tuple[str, ...]:
        return tuple(ref.leaf.id for ref in self.leaves)

    def only(self, leaf_ids: Sequence[str]) -> WorkItem[P]:
        """The same call (same evidence, same keys) for a subset of its leaves."""
        pairs = [
            (ref, key) for ref, key in zip(self.leaves, self.keys, strict=True) if ref.leaf.id in leaf_ids
        ]
        return replace(self, leaves=tuple(p for p, _ in pairs), keys=tuple(k for _, k in pairs))


@dataclass(frozen=True)
class Plan(Generic[P]):
    items: tuple[WorkItem[P], ...]
    no_call: tuple[LeafRef, ...]  # Result Analysis leaves with no touched outputs: 0 without a call
    leaves: tuple[LeafRef, ...]
    notes: tuple[str, ...] = ()  # what every output must say (a log not reduced, leaves refused)
    refused: tuple[tuple[LeafRef, str], ...] = ()  # leaves whose prompt cannot fit (judge.context)


def wave_order(
    items: Sequence[WorkItem[P]],
) -> tuple[list[WorkItem[P]], list[WorkItem[P]], list[WorkItem[P]]]:
    """First call alone (it puts the common prefix in the provider's cache), then the first call of
    each other family together, then everything else."""
    if not items:
        return [], [], []
    first = items[0]
    seen = {first.family}
    second: list[WorkItem[P]] = []
    for item in items[1:]:
        if item.family not in seen:
            seen.add(item.family)
            second.append(item)
    taken = {first.index} | {i.index for i in second}
    return [first], second, [i for i in items if i.index not in taken]
