"""A graded leaf's ``judge_metadata``: one record type, whatever way the leaf ended.

Graded by a call, answered from the leaf cache, scored 0 without a call (Result Analysis with no
touched output), or not graded (a call that failed for good, a budget spent): the grader builds a
``LeafMetadata`` for each, and ``to_dict`` writes the same keys every time: PaperBench's
(``full_judge_response``, ``token_usage``) beside reprobot's (docs/FORMATS.md). ``from_dict`` reads
one back loosely (the leaf cache, trees written by older versions); ``error_kind`` is the typed
reason a leaf was not graded (judge.failures), and only it decides outage handling.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from judge.citations import Citation, parse_citations
from judge.failures import FailureKind
from judge.summary import TokenFigures

# what trees written before FailureKind called the two kinds they had
_OLD_KINDS = {"infra": FailureKind.TRANSIENT, "grading": FailureKind.PERMANENT}


@dataclass(frozen=True, slots=True)
class ModelTokens:
    """One model's share of a leaf's tokens (PaperBench's ``token_usage`` entry, plus reprobot's)."""

    input: int = 0
    cached_input: int = 0
    output: int = 0
    reasoning: int = 0

    def to_dict(self) -> dict[str, int]:
        return {
            "in": self.input,
            "cached_in": self.cached_input,
            "out": self.output,
            "reasoning": self.reasoning,
        }

    @classmethod
    def from_dict(cls, d: Any) -> ModelTokens:
        if not isinstance(d, Mapping):
            return cls()
        return cls(_int(d.get("in")), _int(d.get("cached_in")), _int(d.get("out")), _int(d.get("reasoning")))


def failure_kind(value: Any) -> FailureKind | None:
    """A recorded kind read back: today's names, or the two of trees written before them."""
    if isinstance(value, FailureKind):
        return value
    if isinstance(value, str):
        if value in _OLD_KINDS:
            return _OLD_KINDS[value]
        try:
            return FailureKind(value)
        except ValueError:
            return None
    return None


def _int(value: Any) -> int:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return int(value) if ok else 0


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class LeafMetadata:
    protocol: str
    backend: str
    model: str
    prompt_version: str
    category: str | None = None
    judge: str = "reprobot"
    evidence_files: tuple[str, ...] = ()  # the files the leaf was shown (paperbench: its ranked files)
    evidence_sha256: str | None = None
    leaves_in_call: int = 0
    call_ids: tuple[int, ...] = ()
    attempts: int = 0
    structured_output: bool | None = None
    full_judge_response: str | None = None
    token_usage: Mapping[str, ModelTokens] = field(default_factory=dict)
    tokens: TokenFigures = field(default_factory=TokenFigures)
    cost_usd: float | None = 0.0
    cached: bool = False
    no_call: bool = False
    error: str | None = None
    error_kind: FailureKind | None = None
    citations: tuple[Citation, ...] = ()
    cached_tokens_when_graded: TokenFigures | None = None

    def failed(self, reason: str, kind: FailureKind) -> LeafMetadata:
        return replace(self, error=reason, error_kind=kind)

    def from_cache(self) -> LeafMetadata:
        """This leaf's metadata when the cache answers it again: no tokens paid now."""
        return replace(
            self, cached=True, tokens=TokenFigures(), cost_usd=0.0, cached_tokens_when_graded=self.tokens
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "judge": self.judge,
            "protocol": self.protocol,
            "backend": self.backend,
            "model": self.model,
            "prompt_version": self.prompt_version,
            "category": self.category,
            "evidence_files": list(self.evidence_files),
            "evidence_sha256": self.evidence_sha256,
            "leaves_in_call": self.leaves_in_call,
            "call_ids": list(self.call_ids),
            "attempts": self.attempts,
            "structured_output": self.structured_output,
            "full_judge_response": self.full_judge_response,
            "token_usage": {m: t.to_dict() for m, t in self.token_usage.items()},
            "tokens": self.tokens.to_dict(),
            "cost_usd": self.cost_usd,
            "cached": self.cached,
            "no_call": self.no_call,
            "error": self.error,
            "error_kind": self.error_kind.value if self.error_kind is not None else None,
            "citations": [c.to_dict() for c in self.citations],
            "cached_tokens_when_graded": (
                self.cached_tokens_when_graded.to_dict() if self.cached_tokens_when_graded else None
            ),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> LeafMetadata:
        """Read loosely: missing or mistyped keys take their defaults; an error without a kind has
        none (message text decides nothing)."""
        d = d if isinstance(d, Mapping) else {}
        usage = d.get("token_usage")
        files = d.get("evidence_files")
        ids = d.get("call_ids")
        cost = d.get("cost_usd")
        old = d.get("cached_tokens_when_graded")
        structured = d.get("structured_output")
        return cls(
            protocol=_str(d.get("protocol")) or "",
            backend=_str(d.get("backend")) or "",
            model=_str(d.get("model")) or "",
            prompt_version=_str(d.get("prompt_version")) or "",
            category=_str(d.get("category")),
            judge=_str(d.get("judge")) or "reprobot",
            evidence_files=tuple(f for f in files if isinstance(f, str)) if isinstance(files, list) else (),
            evidence_sha256=_str(d.get("evidence_sha256")),
            leaves_in_call=_int(d.get("leaves_in_call")),
            call_ids=tuple(_int(i) for i in ids) if isinstance(ids, list) else (),
            attempts=_int(d.get("attempts")),
            structured_output=structured if isinstance(structured, bool) else None,
            full_judge_response=_str(d.get("full_judge_response")),
            token_usage=(
                {str(m): ModelTokens.from_dict(t) for m, t in usage.items()}
                if isinstance(usage, Mapping)
                else {}
            ),
            tokens=TokenFigures.from_dict(d.get("tokens")),
            cost_usd=float(cost) if isinstance(cost, int | float) and not isinstance(cost, bool) else None,
            cached=d.get("cached") is True,
            no_call=d.get("no_call") is True,
            error=_str(d.get("error")),
            error_kind=failure_kind(d.get("error_kind")) if d.get("error") else None,
            citations=parse_citations(d.get("citations")),
            cached_tokens_when_graded=TokenFigures.from_dict(old) if isinstance(old, Mapping) else None,
        )
