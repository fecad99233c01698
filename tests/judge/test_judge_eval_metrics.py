"""Invariant: JudgeEval's leaf metrics agree with an independent confusion-matrix computation on
the real human-graded trees, skip leaves below nodes the prediction marks invalid, and break down
by task category."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from judge.graded import parse_graded
from judge.judge_eval import binary_metrics, judge_eval

ROOT = Path(__file__).resolve().parents[2]
GOLD = sorted((ROOT.parent / "shared" / "paperbench" / "judge_eval").glob("*/expected_result.json"))
pytestmark = pytest.mark.skipif(not GOLD, reason="../shared/paperbench/judge_eval not present")


def leaves(node: dict[str, Any]) -> list[dict[str, Any]]:
    if not node["sub_tasks"]:
        return [node]
    return [leaf for child in node["sub_tasks"] for leaf in leaves(child)]


def independent(pairs: list[tuple[int, int]]) -> dict[str, float]:
    """Macro metrics from the 2x2 confusion matrix, written separately from judge.judge_eval."""
    tp = sum(1 for g, p in pairs if g == 1 and p == 1)
    tn = sum(1 for g, p in pairs if g == 0 and p == 0)
    fp = sum(1 for g, p in pairs if g == 0 and p == 1)
    fn = sum(1 for g, p in pairs if g == 1 and p == 0)
    present = [c for c in (0, 1) if any(c in pair for pair in pairs)]

    def prf(t: int, f_pos: int, f_neg: int) -> tuple[float, float, float]:
        p = t / (t + f_pos) if t + f_pos else 0.0
        r = t / (t + f_neg) if t + f_neg else 0.0
        return p, r, (2 * p * r / (p + r) if p + r else 0.0)

    per = {1: prf(tp, fp, fn), 0: prf(tn, fn, fp)}
    k = len(present)
    return {
        "accuracy": (tp + tn) / len(pairs),
        "precision": sum(per[c][0] for c in present) / k,
        "recall": sum(per[c][1] for c in present) / k,
        "f1": sum(per[c][2] for c in present) / k,
    }


@pytest.mark.parametrize("path", GOLD, ids=lambda p: p.parent.name)
def test_gold_against_itself_is_perfect(path: Path) -> None:
    gold = parse_graded(json.loads(path.read_text()))
    result = judge_eval(gold, gold)
    assert result.overall.accuracy == 1.0 and result.overall.f1 == 1.0
    assert result.overall.num_samples == sum(1 for _ in gold.leaves())


@pytest.mark.parametrize("path", GOLD, ids=lambda p: p.parent.name)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_flipped_leaves_match_independent_metrics(path: Path, seed: int) -> None:
    raw = json.loads(path.read_text())
    pred = json.loads(path.read_text())
    rng = random.Random(seed)
    pred_leaves = leaves(pred)
    for leaf in rng.sample(pred_leaves, k=len(pred_leaves) // 4):
        leaf["score"] = 1.0 - leaf["score"]
    result = judge_eval(parse_graded(pred), parse_graded(raw))
    gold_leaves = leaves(raw)
    pairs = [
        (int(g["score"] >= 0.5), int(p["score"] >= 0.5))
        for g, p in zip(gold_leaves, pred_leaves, strict=True)
    ]
    expected = independent(pairs)
    for key, value in expected.items():
        assert getattr(result.overall, key) == pytest.approx(value, abs=1e-12), key
    for category, metrics in result.by_category.items():
        cat_pairs = [
            pair for pair, g in zip(pairs, gold_leaves, strict=True) if g["task_category"] == category
        ]
        assert metrics.num_samples == len(cat_pairs)
        assert metrics.f1 == pytest.approx(independent(cat_pairs)["f1"], abs=1e-12)


def test_leaves_below_an_invalid_node_are_skipped() -> None:
    gold = parse_graded(json.loads(GOLD[0].read_text()))
    raw = json.loads(GOLD[0].read_text())
    first = raw["sub_tasks"][0]
    first["valid_score"] = False
    skipped = len(leaves(first))
    result = judge_eval(parse_graded(raw), gold)
    assert result.num_skipped == skipped
    assert result.overall.num_samples == len(leaves(raw)) - skipped


def test_zero_division_gives_zero_not_an_error() -> None:
    m = binary_metrics([1, 1, 1], [0, 0, 0])
    assert (m.accuracy, m.precision, m.recall, m.f1) == (0.0, 0.0, 0.0, 0.0)
    assert binary_metrics([], []).num_samples == 0


def test_leaves_missing_on_either_side_are_reported() -> None:
    gold = parse_graded(json.loads(GOLD[0].read_text()))
    pred = parse_graded(
        {
            "id": "r",
            "requirements": "r",
            "weight": 1,
            "sub_tasks": [
                {
                    "id": "ghost",
                    "requirements": "g",
                    "weight": 1,
                    "sub_tasks": [],
                    "task_category": "Code Development",
                    "score": 1,
                    "valid_score": True,
                }
            ],
        }
    )
    result = judge_eval(pred, gold)  # reported, not fatal
    assert result.missing_in_gold == ("ghost",)
    assert len(result.missing_in_prediction) == sum(1 for _ in gold.leaves()) > 0
    assert result.overall.num_samples == 0
