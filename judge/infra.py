"""Which leaves of a graded tree failed for infrastructure reasons (the judge endpoint was down).

A leaf the judge could not grade carries the reason in ``judge_metadata["error"]``. When that reason
is the endpoint's trouble (rate limited 429, server errors 5xx, a 400 refusal, connection errors,
timeouts, unreadable response bodies) the leaf is not the submission's fault: the grade is
incomplete, to be retried, never a low score. ``error_kind`` names it; the grader records it as
``judge_metadata["error_kind"]`` and ``infra_failed_leaves`` reads it back (or, for trees written
before the kind was recorded, classifies the error text again).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from judge.failures import FailureKind
from judge.graded import GradedNode

ErrorKind = Literal["infra", "grading"]

# The reasons judge.llm gives to transient failures and to refused requests (judge call failed: ...).
INFRA_MARKERS = (
    "rate limited",
    "server error",
    "timed out",
    "connection error",
    "request refused (400)",
    "malformed response body",
    "response body is not json",
    "response without choices",
    "the endpoint refused the request format",
)


def error_kind(reason: str) -> ErrorKind:
    """``infra`` when a leaf's error text names the endpoint's trouble, else ``grading``."""
    text = reason.lower()
    return "infra" if any(marker in text for marker in INFRA_MARKERS) else "grading"


def leaf_error_kind(metadata: Mapping[str, Any] | None) -> ErrorKind | None:
    """The recorded (or inferred) kind of a leaf's failure; None for a leaf without an error. A
    recorded FailureKind decides: only ``transient`` is the endpoint's trouble."""
    if not metadata or not metadata.get("error"):
        return None
    kind = metadata.get("error_kind")
    if kind in ("infra", "grading"):
        return kind  # type: ignore[no-any-return]
    if kind in {k.value for k in FailureKind}:
        return "infra" if FailureKind(kind).is_outage else "grading"
    return error_kind(str(metadata["error"]))


def infra_failed_leaves(tree: GradedNode) -> list[str]:
    """Ids of the invalid leaves whose judge call failed for infrastructure reasons."""
    return [
        leaf.id
        for leaf in tree.leaves()
        if not leaf.valid_score and leaf_error_kind(leaf.judge_metadata) == "infra"
    ]
