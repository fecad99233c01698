"""Token and dollar accounting, and the ``--estimate`` arithmetic (no call is made)."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from judge.config import JudgeSettings, ModelPrice
from judge.llm import Usage
from judge.plan import WorkItem
from judge.tokens import estimate_tokens, flatten_messages, prefix_reuse


def cost_usd(usage: Usage, price: ModelPrice | None) -> float | None:
    if price is None:
        return None
    uncached = max(usage.input - usage.cached_input, 0)
    return (
        uncached * price.input + usage.cached_input * price.cached_input + usage.output * price.output
    ) / 1e6


class Accounting:
    """Running totals shared by the worker threads."""

    def __init__(self, settings: JudgeSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self.usage = Usage()
        self.calls = 0
        self._cost: float | None = 0.0

    def add(self, usage: Usage, model: str | None = None) -> float | None:
        """Count one answered call; its cost at the model's price (None: model not priced)."""
        cost = cost_usd(usage, self.settings.price(model))
        with self._lock:
            self.usage = self.usage + usage
            self.calls += 1
            self._cost = None if (self._cost is None or cost is None) else self._cost + cost
        return cost

    @property
    def cost(self) -> float | None:
        with self._lock:
            return self._cost

    def exhausted(self) -> str | None:
        """Why no further call may be sent, or None."""
        s = self.settings
        with self._lock:
            usage = self.usage
        if s.budget_tokens is not None and usage.input + usage.output >= s.budget_tokens:
            used = usage.input + usage.output
            return f"judge token budget exhausted ({used} of {s.budget_tokens} tokens used)"
        spent = self.cost
        if s.budget_usd is not None and spent is not None and spent >= s.budget_usd:
            return f"judge budget exhausted (${spent:.2f} of ${s.budget_usd:.2f} spent)"
        return None


def token_usage_share(by_model: Mapping[str, Usage], n: int, i: int) -> dict[str, dict[str, int]]:
    """PaperBench's ``token_usage``: per model, this leaf's share of the item's tokens."""
    out = {}
    for model, usage in by_model.items():
        share = usage.split(n)[i]
        out[model] = {
            "in": share.input,
            "cached_in": share.cached_input,
            "out": share.output,
            "reasoning": share.reasoning,
        }
    return out


@dataclass(frozen=True)
class Estimate:
    calls: int
    leaves: int
    input_tokens: int
    cached_input_tokens: int  # prefix repeats of earlier calls (>= 1,024 tokens)
    output_tokens: int
    cost_usd: float | None
    model: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "calls": self.calls,
            "leaves": self.leaves,
            "input_tokens": self.input_tokens,
            "cached_input_tokens": self.cached_input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": self.cost_usd,
        }


def estimate(items: Sequence[WorkItem], settings: JudgeSettings) -> Estimate:
    """Expected tokens and dollars of sending these items' calls in order (real token counts,
    prefix caching as the provider does it; the paperbench protocol's ranked files guessed by the
    lexical ranker)."""
    seen: set[bytes] = set()
    total_in = cached = out = calls = leaves = 0
    cost: float | None = 0.0
    for item in items:
        leaves += len(item.leaves)
        for model, messages, expected_out in item.planned_calls(settings):
            text = flatten_messages(messages)
            n_in = estimate_tokens(text)
            n_cached = prefix_reuse([text], seen)[0]
            total_in, cached, out, calls = total_in + n_in, cached + n_cached, out + expected_out, calls + 1
            c = cost_usd(Usage(n_in, n_cached, expected_out, 0), settings.price(model))
            cost = None if cost is None or c is None else cost + c
    return Estimate(calls, leaves, total_in, cached, out, cost, "+".join(settings.models()))
