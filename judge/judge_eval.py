"""JudgeEval: how well a predicted graded tree agrees with a human-graded one, leaf by leaf.

As in PaperBench's evaluation: leaves below a node the prediction marks invalid are skipped
(reprobot writes internal nodes valid, so a failed leaf costs that leaf only); the rest are matched
to the gold tree by id, and leaves found on one side only are reported, never fatal; scores are
binarised (>= 0.5 is a pass) and we report accuracy and macro precision / recall / F1
(scikit-learn semantics, zero_division=0) overall and per task category, with sample counts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from judge.graded import GradedNode
from judge.rubric import TASK_CATEGORIES


@dataclass(frozen=True, slots=True)
class Metrics:
    accuracy: float
    precision: float
    recall: float
    f1: float
    num_samples: int
    num_positives: int
    num_negatives: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class JudgeEvalResult:
    overall: Metrics
    by_category: dict[str, Metrics]
    num_skipped: int  # predicted leaves below (or being) a node the prediction marks invalid
    missing_in_gold: tuple[str, ...] = ()  # predicted leaves with no gold leaf of that id
    missing_in_prediction: tuple[str, ...] = ()  # gold leaves the prediction does not have

    def to_dict(self) -> dict[str, Any]:
        return {
            "overall": self.overall.to_dict(),
            "by_category": {k: v.to_dict() for k, v in self.by_category.items()},
            "num_skipped": self.num_skipped,
            "missing_in_gold": list(self.missing_in_gold),
            "missing_in_prediction": list(self.missing_in_prediction),
        }


def _safe_div(a: float, b: float) -> float:
    return a / b if b else 0.0


def binary_metrics(y_true: list[int], y_pred: list[int]) -> Metrics:
    """Accuracy and macro P/R/F1 over the labels present in either list (as scikit-learn does)."""
    n = len(y_true)
    labels = sorted(set(y_true) | set(y_pred))
    precisions, recalls, f1s = [], [], []
    for label in labels:
        tp = sum(1 for t, p in zip(y_true, y_pred, strict=True) if t == label and p == label)
        fp = sum(1 for t, p in zip(y_true, y_pred, strict=True) if t != label and p == label)
        fn = sum(1 for t, p in zip(y_true, y_pred, strict=True) if t == label and p != label)
        p = _safe_div(tp, tp + fp)
        r = _safe_div(tp, tp + fn)
        precisions.append(p)
        recalls.append(r)
        f1s.append(_safe_div(2 * p * r, p + r))
    k = len(labels)
    return Metrics(
        accuracy=_safe_div(sum(1 for t, p in zip(y_true, y_pred, strict=True) if t == p), n),
        precision=_safe_div(sum(precisions), k),
        recall=_safe_div(sum(recalls), k),
        f1=_safe_div(sum(f1s), k),
        num_samples=n,
        num_positives=sum(1 for t in y_true if t == 1),
        num_negatives=sum(1 for t in y_true if t == 0),
    )


def _binary(score: float) -> int:
    return 1 if score >= 0.5 else 0


def judge_eval(pred: GradedNode, gold: GradedNode, source: str = "prediction") -> JudgeEvalResult:  # noqa: ARG001
    gold_by_id: dict[str, GradedNode] = {}
    for node in gold.walk():
        gold_by_id.setdefault(node.id, node)
    pairs: list[tuple[str, int, int]] = []  # (category, gold, pred)
    skipped = 0
    missing_in_gold: list[str] = []
    pred_leaf_ids = {n.id for n in pred.leaves()}

    def rec(node: GradedNode) -> None:
        nonlocal skipped
        if not node.valid_score:
            skipped += sum(1 for _ in node.leaves())
            return
        if node.is_leaf:
            expected = gold_by_id.get(node.id)
            if expected is None or not expected.is_leaf:
                missing_in_gold.append(node.id)
                return
            category = expected.task_category or node.task_category or "Unknown"
            pairs.append((category, _binary(expected.score), _binary(node.score)))
            return
        for child in node.sub_tasks:
            rec(child)

    rec(pred)
    overall = binary_metrics([g for _, g, _ in pairs], [p for _, _, p in pairs])
    by_category: dict[str, Metrics] = {}
    categories = [c for c in TASK_CATEGORIES if any(cat == c for cat, _, _ in pairs)]
    categories += sorted({cat for cat, _, _ in pairs} - set(TASK_CATEGORIES))
    for category in categories:
        sel = [(g, p) for cat, g, p in pairs if cat == category]
        by_category[category] = binary_metrics([g for g, _ in sel], [p for _, p in sel])
    missing_in_prediction = tuple(dict.fromkeys(n.id for n in gold.leaves() if n.id not in pred_leaf_ids))
    return JudgeEvalResult(overall, by_category, skipped, tuple(missing_in_gold), missing_in_prediction)
