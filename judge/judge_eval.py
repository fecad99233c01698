"""JudgeEval: how well predicted graded trees agree with human-graded ones, leaf by leaf, as
PaperBench computes it.

Per pair (a prediction and the gold tree of the same rubric): leaves below (or being) a node the
prediction marks invalid are skipped (reprobot writes internal nodes valid, so a failed leaf costs
that leaf only); the rest are matched to the gold tree by id, and leaves found on one side only are
reported, never fatal; each leaf gives its raw scores (gold, predicted), not binarised, and its
category (the predicted leaf's). Metrics are accuracy and macro precision / recall / F1 over the
score values present (scikit-learn semantics, zero_division=0), overall and per task category.
Over several pairs, PaperBench *pools* every pair's leaves and computes the metrics once (a
600-leaf submission weighs six times a 100-leaf one): ``judge_eval_pooled`` does the same, and
keeps each pair's own result beside the pooled one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from judge.graded import GradedNode
from judge.rubric import TASK_CATEGORIES

UNKNOWN_CATEGORY = "Unknown"


@dataclass(frozen=True, slots=True)
class Metrics:
    accuracy: float
    precision: float
    recall: float
    f1: float
    num_samples: int
    num_positives: int  # int(sum of the gold scores), as PaperBench counts them
    num_negatives: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class LeafPair:
    leaf_id: str
    category: str
    gold: float
    predicted: float


@dataclass(frozen=True, slots=True)
class JudgeEvalResult:
    overall: Metrics
    by_category: dict[str, Metrics]
    num_skipped: int  # predicted leaves below (or being) a node the prediction marks invalid
    missing_in_gold: tuple[str, ...] = ()  # predicted leaves with no gold leaf of that id
    missing_in_prediction: tuple[str, ...] = ()  # gold leaves the prediction does not have
    pairs: tuple[LeafPair, ...] = ()

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


def metrics(y_true: Sequence[float], y_pred: Sequence[float]) -> Metrics:
    """Accuracy and macro P/R/F1 over the values present in either list (as scikit-learn does)."""
    pairs = list(zip(y_true, y_pred, strict=True))
    labels = sorted(set(y_true) | set(y_pred))
    precisions, recalls, f1s = [], [], []
    for label in labels:
        tp = sum(1 for t, p in pairs if t == label and p == label)
        fp = sum(1 for t, p in pairs if t != label and p == label)
        fn = sum(1 for t, p in pairs if t == label and p != label)
        prec, rec = _safe_div(tp, tp + fp), _safe_div(tp, tp + fn)
        precisions.append(prec)
        recalls.append(rec)
        f1s.append(_safe_div(2 * prec * rec, prec + rec))
    k, n = len(labels), len(pairs)
    positives = int(sum(y_true))
    return Metrics(
        accuracy=_safe_div(sum(1 for t, p in pairs if t == p), n),
        precision=_safe_div(sum(precisions), k),
        recall=_safe_div(sum(recalls), k),
        f1=_safe_div(sum(f1s), k),
        num_samples=n,
        num_positives=positives,
        num_negatives=n - positives,
    )


binary_metrics = metrics  # the name older callers use (the scores need not be binary)


def _result(
    pairs: Sequence[LeafPair], skipped: int, missing_gold: tuple[str, ...], missing_pred: tuple[str, ...]
) -> JudgeEvalResult:
    overall = metrics([p.gold for p in pairs], [p.predicted for p in pairs])
    present = {p.category for p in pairs}
    categories = [c for c in TASK_CATEGORIES if c in present] + sorted(present - set(TASK_CATEGORIES))
    by_category = {
        c: metrics(
            [p.gold for p in pairs if p.category == c], [p.predicted for p in pairs if p.category == c]
        )
        for c in categories
    }
    return JudgeEvalResult(overall, by_category, skipped, missing_gold, missing_pred, tuple(pairs))


def judge_eval(pred: GradedNode, gold: GradedNode, source: str = "prediction") -> JudgeEvalResult:  # noqa: ARG001
    gold_by_id: dict[str, GradedNode] = {}
    for node in gold.walk():
        gold_by_id.setdefault(node.id, node)
    pairs: list[LeafPair] = []
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
            category = node.task_category or expected.task_category or UNKNOWN_CATEGORY
            pairs.append(LeafPair(node.id, category, float(expected.score), float(node.score)))
            return
        for child in node.sub_tasks:
            rec(child)

    rec(pred)
    missing_in_prediction = tuple(dict.fromkeys(n.id for n in gold.leaves() if n.id not in pred_leaf_ids))
    return _result(pairs, skipped, tuple(missing_in_gold), missing_in_prediction)


@dataclass(frozen=True, slots=True)
class PooledJudgeEval:
    pooled: JudgeEvalResult  # every pair's leaves together (PaperBench's aggregate metrics)
    per_pair: tuple[JudgeEvalResult, ...]

    def to_dict(self, sources: Sequence[str] = ()) -> dict[str, Any]:
        """The pooled result's keys (``overall``, ``by_category``, ...) plus each pair's own."""
        names = list(sources) + [f"pair {i + 1}" for i in range(len(sources), len(self.per_pair))]
        return {
            **self.pooled.to_dict(),
            "pairs": [{"source": name, **r.to_dict()} for name, r in zip(names, self.per_pair, strict=True)],
        }


def judge_eval_pooled(pairs: Sequence[tuple[GradedNode, GradedNode]]) -> PooledJudgeEval:
    """Each (prediction, gold) pair evaluated, and all their leaves pooled into one result."""
    results = tuple(judge_eval(pred, gold) for pred, gold in pairs)
    pooled = _result(
        [p for r in results for p in r.pairs],
        sum(r.num_skipped for r in results),
        tuple(i for r in results for i in r.missing_in_gold),
        tuple(i for r in results for i in r.missing_in_prediction),
    )
    return PooledJudgeEval(pooled, results)
