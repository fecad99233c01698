"""Invariant: aggregation is PaperBench's — a parent is the weighted mean of its children, zero
total weight gives 0, an invalid leaf counts 0 — and is recomputed from the leaves alone, so the
gold trees' root scores come back to 1e-9 with every internal score blanked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from judge.errors import RubricError
from judge.graded import (
    GradedNode,
    LeafGrade,
    aggregate,
    code_dev_graded,
    coverage,
    grade_tree,
    leaf_shares,
    load_graded,
    parse_graded,
    summarize,
)
from judge.rubric import load_rubric

ROOT = Path(__file__).resolve().parents[2]
GOLD = sorted((ROOT.parent / "shared" / "paperbench" / "judge_eval").glob("*/expected_result.json"))
pytestmark = pytest.mark.skipif(not GOLD, reason="../shared/paperbench/judge_eval not present")


def blank_internal(node: dict[str, Any]) -> dict[str, Any]:
    out = dict(node)
    if node["sub_tasks"]:
        out["score"] = 0.123456  # stale garbage must be ignored
        out["sub_tasks"] = [blank_internal(c) for c in node["sub_tasks"]]
    return out


@pytest.mark.parametrize("path", GOLD, ids=lambda p: p.parent.name)
def test_gold_root_score_is_reproduced_from_leaves(path: Path) -> None:
    raw = json.loads(path.read_text())
    recomputed = aggregate(parse_graded(blank_internal(raw)))
    assert abs(recomputed.score - raw["score"]) < 1e-9

    def check(node: GradedNode, original: dict[str, Any]) -> None:
        assert abs(node.score - original["score"]) < 1e-9, node.id
        for child, orig in zip(node.sub_tasks, original["sub_tasks"], strict=True):
            check(child, orig)

    check(recomputed, raw)


def leaf(
    node_id: str, score: float, weight: float = 1, valid: bool = True, cat: str = "Code Development"
) -> dict:
    return {
        "id": node_id,
        "requirements": node_id,
        "weight": weight,
        "sub_tasks": [],
        "task_category": cat,
        "score": score,
        "valid_score": valid,
    }


def node(node_id: str, *children: dict, weight: float = 1) -> dict:
    return {"id": node_id, "requirements": node_id, "weight": weight, "sub_tasks": list(children)}


def test_weighted_mean_zero_weights_and_invalid_leaves() -> None:
    data = node(
        "root",
        node("a", leaf("a1", 1, weight=3), leaf("a2", 0, weight=1), weight=2),
        node("z", leaf("z1", 1, weight=0), leaf("z2", 1, weight=0), weight=1),
        node("i", leaf("i1", 1, valid=False), leaf("i2", 1), weight=1),
    )
    root = aggregate(parse_graded(data))
    a, z, i = root.sub_tasks
    assert a.score == pytest.approx(0.75)
    assert z.score == 0.0
    assert i.score == pytest.approx(0.5)  # the invalid leaf counts 0 even though it says 1
    # internal nodes are written valid (as PaperBench's judge does): the loss shows in coverage
    assert i.valid_score and a.valid_score and coverage(i) == pytest.approx(0.5)
    assert root.score == pytest.approx((2 * 0.75 + 0 + 0.5) / 4)
    # coverage: a and z fully graded; half of i invalid -> (2*1 + 1*1 + 1*0.5) / 4
    assert coverage(root) == pytest.approx(3.5 / 4)


def test_summary_by_category() -> None:
    data = node(
        "root",
        leaf("cd", 1, cat="Code Development"),
        leaf("ce", 0, cat="Code Execution"),
        leaf("ra", 1, valid=False, cat="Result Analysis"),
    )
    summary = summarize(parse_graded(data))
    assert summary.score == pytest.approx(1 / 3)
    assert summary.coverage == pytest.approx(2 / 3)
    assert summary.by_category["Code Development"].score == 1.0
    assert summary.by_category["Code Execution"].score == 0.0
    ra = summary.by_category["Result Analysis"]
    assert (ra.score, ra.coverage, ra.invalid) == (0.0, 0.0, 1)
    assert (summary.leaves, summary.passed, summary.invalid) == (3, 1, 1)


def test_leaf_shares_sum_to_one() -> None:
    root = parse_graded(
        node("r", node("a", leaf("a1", 1), leaf("a2", 0, weight=3), weight=1), leaf("b", 1, weight=3))
    )
    shares = {leaf.id: share for leaf, share, _ in leaf_shares(root)}
    assert shares == pytest.approx({"a1": 1 / 16, "a2": 3 / 16, "b": 3 / 4})


def test_grade_tree_from_rubric_and_code_dev_variant() -> None:
    rubric = load_rubric(ROOT / "rubrics" / "bam" / "rubric.json")
    graded = grade_tree(rubric, lambda n: LeafGrade(1.0, True, "ok"))
    assert graded.score == pytest.approx(1.0) and coverage(graded) == 1.0
    failing = grade_tree(rubric, lambda n: LeafGrade.invalid("judge down"))
    assert failing.score == 0.0 and coverage(failing) == 0.0
    cd = code_dev_graded(graded)
    assert {n.task_category for n in cd.leaves()} == {"Code Development"}


@pytest.mark.parametrize(
    "bad,needle",
    [
        ({"score": None}, "leaf without 'score'"),
        ({"score": 7}, "[0, 1]"),
        ({"score": "1.5"}, "[0, 1]"),
        ({"valid_score": "yes"}, "'valid_score' must be true or false"),
        ({"judge_metadata": [1]}, "'judge_metadata'"),
    ],
)
def test_malformed_graded_leaf_is_named(tmp_path: Path, bad: dict, needle: str) -> None:
    data = node("root", {**leaf("the-leaf", 1), **bad})
    path = tmp_path / "g.json"
    path.write_text(json.dumps(data))
    with pytest.raises(RubricError) as info:
        load_graded(path)
    assert "'the-leaf'" in str(info.value) and needle in str(info.value)


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    from judge.graded import dump_graded

    original = parse_graded(node("r", {**leaf("x", 1), "explanation": "why", "judge_metadata": {"k": 1}}))
    dump_graded(aggregate(original), tmp_path / "g.json")
    data = json.loads((tmp_path / "g.json").read_text())
    for key in ("score", "valid_score", "explanation", "judge_metadata", "task_category", "sub_tasks"):
        assert key in data and key in data["sub_tasks"][0]
    assert data["sub_tasks"][0]["judge_metadata"] == {"k": 1}
