"""Graded trees (PaperBench's format) and their aggregation.

A graded node is a rubric node plus ``score``, ``valid_score``, ``explanation`` and
``judge_metadata``. Leaf scores are 0 or 1 (any value in [0, 1] is read); a parent's score is the
weight-averaged score of its children (0 when the weights sum to 0); an invalid leaf counts 0.
Beside the score we report *coverage*: the share of the root's weight that was graded validly, so
a judge outage never reads like a bad submission.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from judge.errors import RubricError
from judge.loose import normalise_graded
from judge.rubric import (
    CODE_DEVELOPMENT,
    TASK_CATEGORIES,
    RubricNode,
    _check_node,
    is_number,
    read_json,
    restrict_to_categories,
)

AGGREGATED_EXPLANATION = "Aggregated score from sub-tasks."


@dataclass(frozen=True, slots=True)
class GradedNode:
    id: str
    requirements: str
    weight: float
    sub_tasks: tuple[GradedNode, ...]
    task_category: str | None = None
    finegrained_task_category: str | None = None
    score: float = 0.0
    valid_score: bool = True
    explanation: str = ""
    judge_metadata: Mapping[str, Any] | None = field(default=None, compare=False)

    @property
    def is_leaf(self) -> bool:
        return not self.sub_tasks

    def walk(self) -> Iterator[GradedNode]:
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.sub_tasks))

    def leaves(self) -> Iterator[GradedNode]:
        return (n for n in self.walk() if n.is_leaf)

    def find(self, node_id: str) -> GradedNode | None:
        return next((n for n in self.walk() if n.id == node_id), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "requirements": self.requirements,
            "weight": self.weight,
            "score": self.score,
            "valid_score": self.valid_score,
            "task_category": self.task_category,
            "finegrained_task_category": self.finegrained_task_category,
            "explanation": self.explanation,
            "judge_metadata": dict(self.judge_metadata) if self.judge_metadata is not None else None,
            "sub_tasks": [c.to_dict() for c in self.sub_tasks],
        }


@dataclass(frozen=True, slots=True)
class LeafGrade:
    """What a judge says about one leaf."""

    score: float
    valid_score: bool
    explanation: str
    judge_metadata: Mapping[str, Any] | None = None

    @classmethod
    def invalid(cls, reason: str, metadata: Mapping[str, Any] | None = None) -> LeafGrade:
        return cls(0.0, False, reason, metadata)


# ---------------------------------------------------------------------------------------------- I/O


def parse_graded(data: Any, source: str = "<graded>") -> GradedNode:
    """Read a graded tree from JSON: loosely typed real data is normalised first (judge.loose),
    then checked. Internal scores are read but never trusted."""

    def build(raw: Any, path: str, depth: int) -> GradedNode:
        if depth > 200:
            raise RubricError(source, f"node at {path}", "tree deeper than 200 levels")
        node_id, req, weight, subs, category, fine = _check_node(raw, path, source, loose=True)
        where = f"node {node_id!r}"
        children = tuple(build(c, f"{path}.sub_tasks[{i}]", depth + 1) for i, c in enumerate(subs))
        score = raw.get("score")
        if not children:
            if score is None:
                raise RubricError(source, where, "leaf without 'score'")
            if not is_number(score) or not 0 <= score <= 1:
                raise RubricError(source, where, f"leaf 'score' must be a number in [0, 1], got {score!r}")
        elif not (score is None or is_number(score)):
            raise RubricError(source, where, f"'score' must be a number, got {score!r}")
        valid = raw.get("valid_score", True)
        if not isinstance(valid, bool):
            raise RubricError(source, where, f"'valid_score' must be true or false, got {valid!r}")
        explanation = raw.get("explanation") or ""
        if not isinstance(explanation, str):
            raise RubricError(source, where, "'explanation' must be a string")
        meta = raw.get("judge_metadata")
        if meta is not None and not isinstance(meta, dict):
            raise RubricError(source, where, "'judge_metadata' must be an object or null")
        return GradedNode(
            node_id, req, weight, children, category, fine, float(score or 0.0), valid, explanation, meta
        )

    return build(normalise_graded(data), "$", 0)


def load_graded(path: str | Path) -> GradedNode:
    path = Path(path)
    return parse_graded(read_json(path), str(path))


def dump_graded(node: GradedNode, path: str | Path) -> None:
    Path(path).write_text(json.dumps(node.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# -------------------------------------------------------------------------------------- aggregation


def leaf_effective_score(leaf: GradedNode) -> float:
    return leaf.score if leaf.valid_score else 0.0


def _weighted_mean(pairs: list[tuple[float, float]]) -> float:
    total = sum(w for w, _ in pairs)
    if total == 0:
        return 0.0
    return sum(w * s for w, s in pairs) / total


def aggregate(node: GradedNode) -> GradedNode:
    """Recompute every internal node from the leaves (stale internal scores are ignored).
    Internal nodes are written valid: a leaf that could not be graded invalidates that leaf only."""
    if node.is_leaf:
        return node
    children = tuple(aggregate(c) for c in node.sub_tasks)
    score = _weighted_mean([(c.weight, leaf_effective_score(c) if c.is_leaf else c.score) for c in children])
    return replace(
        node,
        sub_tasks=children,
        score=score,
        valid_score=True,  # as PaperBench's judge writes them; coverage shows what was lost
        explanation=AGGREGATED_EXPLANATION,
        judge_metadata=None,
    )


def coverage(node: GradedNode) -> float:
    """Share of this node's weight that was graded validly (1.0 = every leaf graded)."""
    if node.is_leaf:
        return 1.0 if node.valid_score else 0.0
    pairs = [(c.weight, coverage(c)) for c in node.sub_tasks]
    if sum(w for w, _ in pairs) == 0:
        return sum(c for _, c in pairs) / len(pairs)
    return _weighted_mean(pairs)


def grade_tree(rubric: RubricNode, grade_of: Callable[[RubricNode], LeafGrade]) -> GradedNode:
    """Build the aggregated graded tree from a rubric and a function that grades each leaf."""

    def build(node: RubricNode) -> GradedNode:
        if node.is_leaf:
            g = grade_of(node)
            return GradedNode(
                node.id,
                node.requirements,
                node.weight,
                (),
                node.task_category,
                node.finegrained_task_category,
                float(g.score),  # an invalid leaf keeps the score it was given; it counts 0 above
                g.valid_score,
                g.explanation,
                g.judge_metadata,
            )
        return GradedNode(node.id, node.requirements, node.weight, tuple(build(c) for c in node.sub_tasks))

    return aggregate(build(rubric))


def restrict_graded(node: GradedNode, categories: frozenset[str]) -> GradedNode | None:
    """The graded tree with only leaves of these categories, re-aggregated; None when none remain."""
    pruned = restrict_to_categories(node, categories)
    return aggregate(pruned) if pruned is not None else None


@dataclass(frozen=True, slots=True)
class CategorySummary:
    category: str
    score: float
    coverage: float
    leaves: int
    passed: int
    invalid: int


@dataclass(frozen=True, slots=True)
class ScoreSummary:
    score: float
    coverage: float
    leaves: int
    passed: int
    invalid: int
    by_category: dict[str, CategorySummary]

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "coverage": self.coverage,
            "leaves": self.leaves,
            "passed": self.passed,
            "invalid": self.invalid,
            "by_category": {
                k: {
                    "score": v.score,
                    "coverage": v.coverage,
                    "leaves": v.leaves,
                    "passed": v.passed,
                    "invalid": v.invalid,
                }
                for k, v in self.by_category.items()
            },
        }


def _counts(node: GradedNode) -> tuple[int, int, int]:
    leaves = list(node.leaves())
    return (
        len(leaves),
        sum(1 for leaf in leaves if leaf.valid_score and leaf.score >= 0.5),
        sum(1 for leaf in leaves if not leaf.valid_score),
    )


def summarize(node: GradedNode) -> ScoreSummary:
    """Aggregate, then report score, coverage and the same per task category."""
    root = aggregate(node)
    by_category: dict[str, CategorySummary] = {}
    for category in TASK_CATEGORIES:
        sub = restrict_graded(root, frozenset({category}))
        if sub is None:
            continue
        n, passed, invalid = _counts(sub)
        by_category[category] = CategorySummary(category, sub.score, coverage(sub), n, passed, invalid)
    n, passed, invalid = _counts(root)
    return ScoreSummary(root.score, coverage(root), n, passed, invalid, by_category)


def leaf_shares(node: GradedNode) -> Iterator[tuple[GradedNode, float, tuple[GradedNode, ...]]]:
    """Each leaf with its share of the root's total weight and its ancestors (root first)."""

    def rec(
        n: GradedNode, share: float, ancestors: tuple[GradedNode, ...]
    ) -> Iterator[tuple[GradedNode, float, tuple[GradedNode, ...]]]:
        if n.is_leaf:
            yield n, share, ancestors
            return
        total = sum(c.weight for c in n.sub_tasks)
        for c in n.sub_tasks:
            yield from rec(c, share * (c.weight / total if total else 0.0), (*ancestors, n))

    yield from rec(node, 1.0, ())


def code_dev_graded(node: GradedNode) -> GradedNode:
    """The Code-Dev variant of a graded tree."""
    pruned = restrict_graded(node, frozenset({CODE_DEVELOPMENT}))
    if pruned is None:
        raise RubricError(f"graded tree {node.id!r}", "", "has no Code Development leaves")
    return pruned
