"""Flatten a graded tree into rows (open / leaf / collapsed / cut / close) for the templates.

Python decides *what* is shown at a given level of detail (``TreeStyle``); the templates decide
*how*. Levels of detail, from full to minimal, are in ``LEVELS``: the renderers try them in order
and keep the first that fits the size budget.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from bot.report.model import ReportContext, Verdict
from judge.graded import GradedNode

RowKind = Literal["open", "close", "leaf", "collapsed", "cut"]


@dataclass(frozen=True, slots=True)
class TreeStyle:
    name: str
    collapse_passing: bool = False  # a fully passing subtree becomes one line
    max_depth: int | None = None  # internal nodes at this depth become one line
    requirement_chars: int | None = None
    explanation_chars: int | None = 1500  # 0 = leave explanations out
    only_failing_leaves: bool = False  # passing leaves are counted, not listed


LEVELS: tuple[TreeStyle, ...] = (
    TreeStyle("full"),
    TreeStyle("passing subtrees collapsed", collapse_passing=True),
    TreeStyle("explanations shortened", collapse_passing=True, requirement_chars=400, explanation_chars=400),
    TreeStyle(
        "passing leaves omitted",
        collapse_passing=True,
        requirement_chars=250,
        explanation_chars=200,
        only_failing_leaves=True,
    ),
    TreeStyle(
        "explanations omitted",
        collapse_passing=True,
        requirement_chars=160,
        explanation_chars=0,
        only_failing_leaves=True,
    ),
    TreeStyle(
        "requirements shortened",
        collapse_passing=True,
        requirement_chars=80,
        explanation_chars=0,
        only_failing_leaves=True,
    ),
    TreeStyle("depth 4", collapse_passing=True, max_depth=4, requirement_chars=100, explanation_chars=0),
    TreeStyle("depth 3", collapse_passing=True, max_depth=3, requirement_chars=140, explanation_chars=0),
    TreeStyle(
        "depth 3, short", collapse_passing=True, max_depth=3, requirement_chars=70, explanation_chars=0
    ),
    TreeStyle("depth 2", collapse_passing=True, max_depth=2, requirement_chars=140, explanation_chars=0),
    TreeStyle("depth 1", collapse_passing=True, max_depth=1, requirement_chars=120, explanation_chars=0),
)


@dataclass(frozen=True, slots=True)
class NodeStats:
    verdict: Verdict
    leaves: int
    passed: int
    failed: int
    invalid: int
    share: float  # of the root's weight


@dataclass(frozen=True, slots=True)
class Row:
    kind: RowKind
    depth: int
    node: GradedNode
    stats: NodeStats
    hidden_passing: int = 0  # passing leaves under an open node that are not listed


def node_stats(ctx: ReportContext) -> dict[int, NodeStats]:
    """Stats of every node, keyed by ``id(node)`` (ids may repeat in real rubrics)."""
    share_of_leaf = {id(leaf.node): leaf.share for leaf in ctx.leaves}
    out: dict[int, NodeStats] = {}

    def rec(n: GradedNode, share: float) -> NodeStats:
        if n.is_leaf:
            v: Verdict = "invalid" if not n.valid_score else ("pass" if n.score >= 0.5 else "fail")
            st = NodeStats(
                v, 1, int(v == "pass"), int(v == "fail"), int(v == "invalid"), share_of_leaf.get(id(n), share)
            )
        else:
            total = sum(c.weight for c in n.sub_tasks)
            kids = [rec(c, share * (c.weight / total if total else 0.0)) for c in n.sub_tasks]
            leaves = sum(k.leaves for k in kids)
            passed = sum(k.passed for k in kids)
            failed = sum(k.failed for k in kids)
            invalid = sum(k.invalid for k in kids)
            v = "invalid" if invalid else ("pass" if passed == leaves else "fail")
            st = NodeStats(v, leaves, passed, failed, invalid, share)
        out[id(n)] = st
        return st

    rec(ctx.root, 1.0)
    return out


def tree_rows(
    ctx: ReportContext, style: TreeStyle, stats: dict[int, NodeStats] | None = None
) -> Iterator[Row]:
    stats = stats if stats is not None else node_stats(ctx)

    def rec(n: GradedNode, depth: int) -> Iterator[Row]:
        st = stats[id(n)]
        if n.is_leaf:
            if not (style.only_failing_leaves and st.verdict == "pass"):
                yield Row("leaf", depth, n, st)
            return
        if depth > 0 and style.collapse_passing and st.verdict == "pass":
            yield Row("collapsed", depth, n, st)
            return
        if style.max_depth is not None and depth >= style.max_depth:
            yield Row("cut", depth, n, st)
            return
        hidden = (
            sum(1 for c in n.sub_tasks if c.is_leaf and stats[id(c)].verdict == "pass")
            if style.only_failing_leaves
            else 0
        )
        yield Row("open", depth, n, st, hidden)
        for c in n.sub_tasks:
            yield from rec(c, depth + 1)
        yield Row("close", depth, n, st, hidden)

    yield from rec(ctx.root, 0)
