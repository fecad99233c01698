"""Graded trees as real data is: normalise loosely typed trees once, at the edge.

PaperBench's loader has no type checks, and real gold trees show it: ``valid_score`` may be
``1.0``, ``0`` or ``null``; ``judge_metadata`` may be ``""`` or ``[]``; numbers may be strings;
max-depth grading writes "Subtree" leaves whose score covers a whole subtree (continuous). This
module turns any of those into the clean shape ``judge.graded.parse_graded`` then checks strictly.
What cannot be given a meaning (a weight of "abc", a node that is not an object) is left as is, so
the strict check names it. ``reprobot rubric check`` never goes through here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

SUBTREE = "Subtree"
_TRUE = {"true", "1", "1.0"}
_FALSE = {"false", "0", "0.0"}


def _number(value: Any) -> Any:
    if isinstance(value, str):
        try:
            f = float(value.strip())
        except ValueError:
            return value
        return f if math.isfinite(f) else value
    return value


def _valid(value: Any) -> Any:
    if value is None:
        return True  # not set: PaperBench writes leaves valid unless grading raised
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        v = value.strip().lower()
        if v in _TRUE:
            return True
        if v in _FALSE:
            return False
    return value


def _metadata(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value) if value else None
    if value is None or (isinstance(value, str | list) and not value):
        return None
    return value  # anything else is left for the strict check to name


def normalise_graded(raw: Any, depth: int = 0) -> Any:
    """A cleaned copy of a graded tree read from JSON (see the module docstring)."""
    if not isinstance(raw, Mapping) or depth > 200:
        return raw
    node = dict(raw)
    if isinstance(node.get("id"), int | float) and not isinstance(node.get("id"), bool):
        node["id"] = str(node["id"])
    if node.get("requirements") is None and "requirements" in node:
        node["requirements"] = ""
    for key in ("weight", "score"):
        if key in node:
            node[key] = _number(node[key])
    node["valid_score"] = _valid(node.get("valid_score"))
    node["judge_metadata"] = _metadata(node.get("judge_metadata"))
    expl = node.get("explanation")
    node["explanation"] = "" if expl is None else expl if isinstance(expl, str) else str(expl)
    subs = node.get("sub_tasks")
    if subs is None:
        subs = []
    if node.get("task_category") == SUBTREE:
        subs = []  # graded as one unit at max depth: its score covers the subtree
    if isinstance(subs, list):
        node["sub_tasks"] = [normalise_graded(c, depth + 1) for c in subs]
        if node["sub_tasks"]:
            # internal nodes carry no category; a stray one (or "") is dropped, not refused
            if node.get("task_category") in ("", None) or isinstance(node.get("task_category"), str):
                node["task_category"] = None
            node["finegrained_task_category"] = None
    if node.get("task_category") == "":
        node["task_category"] = None
    if node.get("finegrained_task_category") == "":
        node["finegrained_task_category"] = None
    return node
