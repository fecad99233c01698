"""The LLM seam: what a judge call asks (``LLMRequest``), what comes back (``LLMResponse`` with its
``Usage``), and the ``LLMBackend`` Protocol every provider implements.

A backend declares its identity (``name``, ``caveat``: what every output must say beside a grade
it made, the ``secrets`` it holds), answers one request at a time, and says what it negotiated
with its endpoint (``endpoint()``, recorded in judge_summary.json); it raises only the exceptions
of ``judge.llm.errors``, each carrying its ``FailureKind``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from judge.endpoint import EndpointRecord

# What a request asks for (the dummy judge answers by it; the wire never carries it):
KIND_GRADES = "grades"  # reprobot protocol: JSON verdicts for the leaf ids
KIND_RANK = "rank"  # paperbench protocol: file paths, one a line
KIND_GRADE_TEXT = "grade_text"  # paperbench protocol: Expectations / Reality / Score
KIND_PARSE = "parse"  # paperbench protocol: the grading answer as {valid_score, score, explanation}


@dataclass(frozen=True, slots=True)
class Usage:
    input: int = 0
    cached_input: int = 0
    output: int = 0
    reasoning: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input + other.input,
            self.cached_input + other.cached_input,
            self.output + other.output,
            self.reasoning + other.reasoning,
        )

    def to_dict(self) -> dict[str, int]:
        return {
            "input": self.input,
            "cached_input": self.cached_input,
            "output": self.output,
            "reasoning": self.reasoning,
        }

    def split(self, n: int) -> list[Usage]:
        """Share this usage between n leaves (integer parts, remainders to the first ones)."""

        def parts(total: int) -> list[int]:
            q, r = divmod(total, n)
            return [q + (1 if i < r else 0) for i in range(n)]

        cols = [parts(self.input), parts(self.cached_input), parts(self.output), parts(self.reasoning)]
        return [Usage(*(c[i] for c in cols)) for i in range(n)]


@dataclass(frozen=True, slots=True)
class LLMRequest:
    messages: tuple[tuple[str, str], ...]  # (role, content)
    leaf_ids: tuple[str, ...]  # the criteria this request grades (the dummy judge answers them)
    schema: Mapping[str, Any] | None = None
    schema_name: str = "rubric_grades"
    timeout_s: float = 300.0
    model: str | None = None  # None: the backend's model
    kind: str = KIND_GRADES


@dataclass(frozen=True, slots=True)
class LLMResponse:
    text: str
    usage: Usage
    model: str  # the name the endpoint answered with (recorded; prices follow the name asked for)
    structured: bool  # the endpoint was asked for JSON (a schema or a JSON object)
    raw: Mapping[str, Any] = field(default_factory=dict)
    response_format: str = "text"  # json_schema | json_object | text: how this answer was asked for


class LLMBackend(Protocol):
    model: str
    name: str  # "openai-compatible", "dummy", ...
    caveat: str | None  # what every output must say beside a grade from this backend, if anything
    secrets: tuple[str, ...]  # values that must never appear in an output (the API key)

    def complete(self, request: LLMRequest) -> LLMResponse: ...

    def endpoint(self) -> EndpointRecord:
        """The endpoint as negotiated so far: host, capabilities, what was learned, requests sent."""
        ...
