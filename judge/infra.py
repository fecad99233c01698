"""Which leaves of a graded tree failed for infrastructure reasons (the judge endpoint was down).

A leaf the judge could not grade carries a typed ``error_kind`` in its ``judge_metadata``
(judge.failures), set where the exception was caught. Only that kind decides: a ``transient``
failure is the endpoint's trouble, not the submission's (the grade is incomplete, to be retried,
never a low score). Trees written before the kinds had names carry ``infra``/``grading``, read as
``transient``/``permanent``; an error with no kind at all is not an outage. Message text decides
nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from judge.failures import FailureKind
from judge.graded import GradedNode
from judge.leaf_metadata import LeafMetadata


def leaf_failure_kind(metadata: Mapping[str, Any] | None) -> FailureKind | None:
    """The recorded kind of a leaf's failure; None for a leaf without an error (or without a kind)."""
    return LeafMetadata.from_dict(metadata).error_kind


def infra_failed_leaves(tree: GradedNode) -> list[str]:
    """Ids of the invalid leaves whose judge call failed for infrastructure reasons (an outage)."""
    out = []
    for leaf in tree.leaves():
        kind = leaf_failure_kind(leaf.judge_metadata) if not leaf.valid_score else None
        if kind is not None and kind.is_outage:
            out.append(leaf.id)
    return out
