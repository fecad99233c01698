"""The grade summary: one typed, frozen record, written to judge_summary.json by one to/from-JSON pair.

Caveats are what every output must say beside the score (the dummy judge's "not a real grade",
"graded WITHOUT the paper"): outputs print them, they never ask what kind of judge ran. Old
summaries with ``"dummy": true`` still load (as the dummy judge's caveat).

It also says what the grade was made with and what it lacks: the endpoint (host, negotiated
capabilities, requests sent, failed ones included), the leaves without a verdict by the kind of
failure, and ``incomplete()``: a grade some leaf has no verdict in is not a score to print bare;
its exit status is 1 when the configuration must change (a refusal, an answer no grade can be read
from) and 3 when the endpoint failed (retry later).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from judge.endpoint import EndpointRecord
from judge.errors import JudgeError
from judge.failures import FailureKind
from judge.graded import GradedNode
from judge.outputs import JUDGE_SUMMARY

DUMMY_CAVEAT = "dummy judge: word overlap, no model; not a real grade"
NO_PAPER_CAVEAT = "graded WITHOUT the paper (paper.md missing; --allow-missing-paper)"
SUMMARY_FILE = JUDGE_SUMMARY


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _int(value: Any) -> int:
    n = _num(value)
    return int(n) if n is not None else 0


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True, slots=True)
class CategoryFigures:
    score: float
    coverage: float
    leaves: int
    passed: int
    invalid: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "coverage": self.coverage,
            "leaves": self.leaves,
            "passed": self.passed,
            "invalid": self.invalid,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CategoryFigures:
        return cls(
            _num(d.get("score")) or 0.0,
            _num(d.get("coverage")) or 0.0,
            _int(d.get("leaves")),
            _int(d.get("passed")),
            _int(d.get("invalid")),
        )


@dataclass(frozen=True, slots=True)
class TokenFigures:
    input: int = 0
    cached_input: int = 0
    output: int = 0
    reasoning: int = 0

    def to_dict(self) -> dict[str, int]:
        return {
            "input": self.input,
            "cached_input": self.cached_input,
            "output": self.output,
            "reasoning": self.reasoning,
        }

    @classmethod
    def from_dict(cls, d: Any) -> TokenFigures:
        if not isinstance(d, Mapping):
            return cls()
        return cls(
            _int(d.get("input")), _int(d.get("cached_input")), _int(d.get("output")), _int(d.get("reasoning"))
        )


@dataclass(frozen=True, slots=True)
class Incomplete:
    """A grade with leaves that have no verdict: the exit status and the line that says why."""

    exit_code: int  # 1: the configuration's to fix; 3: the endpoint failed
    line: str


class IncompleteGrade(JudgeError):
    """Raised by a command after it wrote and printed an incomplete grade: its one line and exit."""

    def __init__(self, incomplete: Incomplete) -> None:
        super().__init__(incomplete.line)
        self.exit_code = incomplete.exit_code


def failure_counts(graded: GradedNode) -> dict[str, int]:
    """Leaves without a verdict, by the kind of their failure (``judge_metadata["error_kind"]``)."""
    counts: dict[str, int] = {}
    kinds = {k.value for k in FailureKind}
    for leaf in graded.leaves():
        if leaf.valid_score:
            continue
        kind = (leaf.judge_metadata or {}).get("error_kind")
        key = kind if kind in kinds else FailureKind.PERMANENT.value
        counts[key] = counts.get(key, 0) + 1
    return counts


@dataclass(frozen=True, slots=True)
class GradeSummary:
    paper_id: str
    score: float
    coverage: float
    leaves: int
    passed: int
    invalid: int
    mode: str = "full"  # full | code-dev
    protocol: str = "paperbench"
    models: tuple[str, ...] = ()  # grading model first (then ranking / parsing models if different)
    caveats: tuple[str, ...] = ()
    by_category: Mapping[str, CategoryFigures] = field(default_factory=dict)
    tokens: TokenFigures = field(default_factory=TokenFigures)
    cost_usd: float | None = None
    calls: int = 0
    cached_leaves: int = 0
    leaves_per_call: int = 1
    started_at: str | None = None
    finished_at: str | None = None
    prompt_version: str | None = None
    run_status: str | None = None
    endpoint: EndpointRecord | None = None
    attempts: int = 0  # requests sent to the endpoint, failed ones included
    failed_leaves: Mapping[str, int] = field(default_factory=dict)  # leaves without a verdict, by kind

    @property
    def model(self) -> str | None:
        return self.models[0] if self.models else None

    def incomplete(self) -> Incomplete | None:
        """None when every leaf got a verdict; else the exit status and the one line to say."""
        if self.invalid == 0:
            return None
        kinds = {k: n for k, n in self.failed_leaves.items() if n}
        said = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or f"{self.invalid} invalid"
        line = (
            f"incomplete grade: {self.invalid} of {self.leaves} leaves have no verdict ({said}); "
            f"coverage {100 * self.coverage:.1f}%, partial score {self.score:.4f}"
        )
        refused = kinds.get(FailureKind.REFUSED.value, 0)
        transient = kinds.get(FailureKind.TRANSIENT.value, 0)
        if transient and not refused:
            return Incomplete(3, line + ": the judge endpoint failed (retry later)")
        if refused:
            return Incomplete(1, line + ": the endpoint refuses what the configuration asks (see above)")
        return Incomplete(1, line + ": the model's answers could not be read as grades")

    def to_dict(self) -> dict[str, Any]:
        return {
            "paper_id": self.paper_id,
            "mode": self.mode,
            "protocol": self.protocol,
            "model": self.model,
            "models": list(self.models),
            "caveats": list(self.caveats),
            "score": self.score,
            "coverage": self.coverage,
            "by_category": {k: v.to_dict() for k, v in self.by_category.items()},
            "leaves": self.leaves,
            "passed": self.passed,
            "invalid": self.invalid,
            "tokens": self.tokens.to_dict(),
            "cost_usd": self.cost_usd,
            "calls": self.calls,
            "cached_leaves": self.cached_leaves,
            "leaves_per_call": self.leaves_per_call,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "prompt_version": self.prompt_version,
            "run_status": self.run_status,
            "endpoint": self.endpoint.to_dict() if self.endpoint is not None else None,
            "attempts": self.attempts,
            "failed_leaves": dict(self.failed_leaves),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> GradeSummary:
        caveats = [c for c in d.get("caveats") or () if isinstance(c, str) and c]
        if d.get("dummy") is True and DUMMY_CAVEAT not in caveats:  # summaries written before caveats
            caveats.insert(0, DUMMY_CAVEAT)
        models = [m for m in d.get("models") or () if isinstance(m, str) and m]
        if not models and _str(d.get("model")):
            models = [str(d["model"])]
        cats = d.get("by_category")
        return cls(
            paper_id=_str(d.get("paper_id")) or "",
            score=_num(d.get("score")) or 0.0,
            coverage=_num(d.get("coverage")) or 0.0,
            leaves=_int(d.get("leaves")),
            passed=_int(d.get("passed")),
            invalid=_int(d.get("invalid")),
            mode=_str(d.get("mode")) or "full",
            protocol=_str(d.get("protocol")) or "reprobot",  # summaries before protocols were reprobot's
            models=tuple(models),
            caveats=tuple(caveats),
            by_category={
                str(k): CategoryFigures.from_dict(v)
                for k, v in (cats.items() if isinstance(cats, Mapping) else ())
                if isinstance(v, Mapping)
            },
            tokens=TokenFigures.from_dict(d.get("tokens")),
            cost_usd=_num(d.get("cost_usd")),
            calls=_int(d.get("calls")),
            cached_leaves=_int(d.get("cached_leaves")),
            leaves_per_call=_int(d.get("leaves_per_call")) or 1,
            started_at=_str(d.get("started_at")),
            finished_at=_str(d.get("finished_at")),
            prompt_version=_str(d.get("prompt_version")),
            run_status=_str(d.get("run_status")),
            endpoint=EndpointRecord.from_dict(d.get("endpoint")),
            attempts=_int(d.get("attempts")),
            failed_leaves={str(k): _int(v) for k, v in _mapping(d.get("failed_leaves")).items()},
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> GradeSummary:
        data = json.loads(text)
        if not isinstance(data, Mapping):
            raise ValueError("a grade summary is a JSON object")
        return cls.from_dict(data)

    def write(self, path: Path) -> None:
        path.write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> GradeSummary:
        return cls.from_json(path.read_text(encoding="utf-8"))
