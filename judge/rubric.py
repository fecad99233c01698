"""The rubric tree model: load, validate and walk PaperBench rubric.json files.

A rubric is a tree of nodes ``{id, requirements, weight, sub_tasks, task_category,
finegrained_task_category}``. Leaves carry a task category; internal nodes carry none.
Validation accepts every real PaperBench rubric and rejects anything else with one line naming
the file, the node and the problem.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, TypeVar

from judge.errors import RubricError

CODE_DEVELOPMENT = "Code Development"
CODE_EXECUTION = "Code Execution"
RESULT_ANALYSIS = "Result Analysis"
TASK_CATEGORIES: tuple[str, ...] = (CODE_DEVELOPMENT, CODE_EXECUTION, RESULT_ANALYSIS)
SUBTREE_CATEGORY = "Subtree"  # a whole subtree graded as one unit (max-depth grading); graded trees only

FINEGRAINED_CATEGORIES: tuple[str, ...] = (
    "Environment & Infrastructure Setup",
    "Dataset and Model Acquisition",
    "Data Processing & Preparation",
    "Method Implementation",
    "Experimental Setup",
    "Evaluation, Metrics & Benchmarking",
    "Logging, Analysis & Presentation",
)

# Fields that belong to the graded-tree format; a rubric may carry them (a graded tree is a rubric too).
GRADED_FIELDS = frozenset({"score", "valid_score", "explanation", "judge_metadata"})


@dataclass(frozen=True, slots=True)
class RubricNode:
    id: str
    requirements: str
    weight: float
    sub_tasks: tuple[RubricNode, ...]
    task_category: str | None = None
    finegrained_task_category: str | None = None

    @property
    def is_leaf(self) -> bool:
        return not self.sub_tasks

    def walk(self) -> Iterator[RubricNode]:
        """Pre-order walk of every node."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.sub_tasks))

    def leaves(self) -> Iterator[RubricNode]:
        return (n for n in self.walk() if n.is_leaf)

    def walk_with_ancestors(self) -> Iterator[tuple[RubricNode, tuple[RubricNode, ...]]]:
        """Each node with the chain of its ancestors (root first)."""
        stack: list[tuple[RubricNode, tuple[RubricNode, ...]]] = [(self, ())]
        while stack:
            node, ancestors = stack.pop()
            yield node, ancestors
            chain = (*ancestors, node)
            stack.extend((child, chain) for child in reversed(node.sub_tasks))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "requirements": self.requirements,
            "weight": self.weight,
            "sub_tasks": [c.to_dict() for c in self.sub_tasks],
            "task_category": self.task_category,
            "finegrained_task_category": self.finegrained_task_category,
        }


def _where(raw: Any, path: str) -> str:
    node_id = raw.get("id") if isinstance(raw, dict) else None
    if isinstance(node_id, str) and node_id:
        return f"node {node_id!r}"
    return f"node at {path}"


def is_number(value: Any) -> bool:
    """A JSON number: int or float, never a bool, and finite."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_node(
    raw: Any, path: str, source: str, loose: bool = False
) -> tuple[str, str, float, list[Any], str | None, str | None]:
    """One node's fields, strictly checked. ``loose`` (graded trees read from real data) also
    accepts the "Subtree" category of max-depth grading and any fine-grained category."""
    if not isinstance(raw, dict):
        raise RubricError(source, f"node at {path}", f"expected an object, got {type(raw).__name__}")
    where = _where(raw, path)
    node_id = raw.get("id")
    if not isinstance(node_id, str) or not node_id:
        raise RubricError(source, where, "missing or non-string 'id'")
    if "requirements" not in raw:
        raise RubricError(source, where, "missing 'requirements'")
    if not isinstance(raw["requirements"], str):
        raise RubricError(
            source, where, f"'requirements' must be a string, got {_json_type(raw['requirements'])}"
        )
    if "weight" not in raw:
        raise RubricError(source, where, "missing 'weight'")
    weight = raw["weight"]
    if not is_number(weight):
        raise RubricError(source, where, f"'weight' must be a number, got {_json_type(weight)} {weight!r}")
    if weight < 0:
        raise RubricError(source, where, f"'weight' must not be negative, got {weight!r}")
    if "sub_tasks" not in raw:
        raise RubricError(source, where, "missing 'sub_tasks' (use [] for a leaf)")
    sub_tasks = raw["sub_tasks"]
    if not isinstance(sub_tasks, list):
        raise RubricError(source, where, f"'sub_tasks' must be a list, got {_json_type(sub_tasks)}")
    category = raw.get("task_category")
    fine = raw.get("finegrained_task_category")
    if sub_tasks:
        if category is not None:
            raise RubricError(
                source, where, f"internal node has task_category {category!r} (only leaves may)"
            )
        if fine is not None:
            raise RubricError(
                source, where, f"internal node has finegrained_task_category {fine!r} (only leaves may)"
            )
    else:
        if category is None:
            raise RubricError(
                source, where, f"leaf without task_category (one of: {', '.join(TASK_CATEGORIES)})"
            )
        if category not in TASK_CATEGORIES and not (loose and category == SUBTREE_CATEGORY):
            raise RubricError(
                source, where, f"unknown task_category {category!r} (one of: {', '.join(TASK_CATEGORIES)})"
            )
        if fine is not None and fine not in FINEGRAINED_CATEGORIES and not (loose and isinstance(fine, str)):
            raise RubricError(source, where, f"unknown finegrained_task_category {fine!r}")
    return node_id, raw["requirements"], weight, sub_tasks, category, fine


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


def parse_rubric(data: Any, source: str = "<rubric>") -> RubricNode:
    """Validate raw JSON data and build the frozen tree.

    Duplicate ids are rejected unless the duplicated nodes are identical copies: PaperBench's own
    rubrics (bbox, bridging-data-gaps) repeat a few leaves verbatim in two places, and those are
    accepted; two *different* nodes sharing an id are ambiguous and refused.
    """
    seen: dict[str, tuple[str, Any]] = {}

    def build(raw: Any, path: str, depth: int) -> RubricNode:
        if depth > 200:
            raise RubricError(source, f"node at {path}", "tree deeper than 200 levels")
        node_id, req, weight, subs, category, fine = _check_node(raw, path, source)
        children = tuple(build(child, f"{path}.sub_tasks[{i}]", depth + 1) for i, child in enumerate(subs))
        node = RubricNode(node_id, req, weight, children, category, fine)
        if node_id in seen:
            first_path, first = seen[node_id]
            if first != node:
                raise RubricError(
                    source, f"node {node_id!r}", f"duplicate id: the nodes at {first_path} and {path} differ"
                )
        else:
            seen[node_id] = (path, node)
        return node

    return build(data, "$", 0)


def read_json(path: Path) -> Any:
    """Read a JSON file, translating every way it can be unreadable into a RubricError."""
    source = str(path)
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise RubricError(source, "", "no such file") from None
    except IsADirectoryError:
        raise RubricError(source, "", "is a directory, not a JSON file") from None
    except OSError as exc:
        raise RubricError(source, "", f"cannot read: {exc.strerror}") from None
    if not text.strip():
        raise RubricError(source, "", "empty file")
    try:
        return json.loads(text)
    except UnicodeDecodeError:
        raise RubricError(source, "", "not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise RubricError(
            source, "", f"not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None


def load_rubric(path: str | Path) -> RubricNode:
    path = Path(path)
    return parse_rubric(read_json(path), str(path))


class _TreeNode(Protocol):
    @property
    def is_leaf(self) -> bool: ...
    @property
    def sub_tasks(self) -> tuple[Any, ...]: ...
    @property
    def task_category(self) -> str | None: ...


NodeT = TypeVar("NodeT", bound=_TreeNode)


def restrict_to_categories(root: NodeT, categories: frozenset[str]) -> NodeT | None:
    """The tree (rubric or graded) with only the leaves of the given categories; internal nodes
    left without children are dropped; None when no leaf remains. Scores are not recomputed."""

    def prune(node: NodeT) -> NodeT | None:
        if node.is_leaf:
            return node if node.task_category in categories else None
        kept = tuple(c for c in (prune(child) for child in node.sub_tasks) if c is not None)
        return replace(node, sub_tasks=kept) if kept else None  # type: ignore[type-var]  # both node types are dataclasses

    return prune(root)


def code_dev_rubric(root: RubricNode) -> RubricNode:
    """PaperBench's Code-Dev variant: only Code Development leaves, internal nodes left without one
    dropped (a node that itself says Code Development stays); a rubric with no Code Development leaf
    at all is graded as PaperBench grades it then: its root alone, as one Code Development leaf."""

    def prune(node: RubricNode) -> RubricNode | None:
        if node.is_leaf:
            return node if node.task_category == CODE_DEVELOPMENT else None
        kept = tuple(c for c in (prune(child) for child in node.sub_tasks) if c is not None)
        if not kept and node.task_category != CODE_DEVELOPMENT:
            return None
        return replace(node, sub_tasks=kept)

    return prune(root) or replace(root, task_category=CODE_DEVELOPMENT, sub_tasks=())
