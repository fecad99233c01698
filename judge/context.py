"""Context you can trust, and bounded answers: the model's window, the output cap of a call, and the
check a prompt passes before anything is sent.

The window is ``judge.context_window_tokens`` when set, else the published window of an OpenAI
model on OpenAI's endpoint, else unknown until the endpoint's first refusal says it (the backend
learns it then; see judge.llm.negotiation). Prompts are counted in o200k tokens; off OpenAI, where
the server's tokenizer differs, ``judge.context_margin`` of the window is kept free. A call fits
when its prompt leaves at least ``judge.min_output_tokens`` for the answer.

``screen`` is the planner's check: a leaf whose prompt cannot fit is refused at planning, before
any call, and the run says so in one line (not one doomed request per leaf).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from judge.config import JudgeSettings, is_reasoning_model
from judge.tokens import count_tokens, flatten_messages

if TYPE_CHECKING:
    from judge.protocols.common import LeafRef

# Published windows of OpenAI's models (tokens), matched by the longest prefix of the model name.
KNOWN_CONTEXT_WINDOWS: dict[str, int] = {
    "o1": 200_000,
    "o1-mini": 128_000,
    "o3": 200_000,
    "o3-mini": 200_000,
    "o4-mini": 200_000,
    "gpt-4o": 128_000,
    "gpt-4o-mini": 128_000,
    "gpt-4.1": 1_047_576,
    "gpt-5": 400_000,
    "gpt-4-turbo": 128_000,
}
ASSUMED_WINDOW = 200_000  # what budgets assume while a model's window is unknown
REASONING_OUTPUT_CAP = 32_768  # per call: reasoning tokens count against the cap
OUTPUT_CAP_PER_LEAF = 1_024  # other models: per leaf graded in the call ...
OUTPUT_CAP_MAX = 16_384  # ... at most this per call


def known_window(model: str) -> int | None:
    m = model.lower().rsplit("/", 1)[-1]
    best = max((k for k in KNOWN_CONTEXT_WINDOWS if m == k or m.startswith(k + "-")), key=len, default=None)
    return KNOWN_CONTEXT_WINDOWS[best] if best else None


@dataclass(frozen=True, slots=True)
class ContextLimit:
    tokens: int | None  # None: unknown (until the endpoint says it)
    source: str  # configured | known | learned | unknown
    margin: float  # share of the window kept free for a tokenizer that is not o200k

    def room(self, prompt_tokens: int) -> int | None:
        """Tokens left for the answer after a prompt of ``prompt_tokens`` (o200k), margin kept."""
        if self.tokens is None:
            return None
        return self.tokens - math.ceil(prompt_tokens * (1 + self.margin))

    def describe(self) -> str:
        if self.tokens is None:
            return "context window (unknown)"
        return f"context window of {self.tokens:,} tokens ({self.source})"


def context_limit(settings: JudgeSettings, model: str | None = None) -> ContextLimit:
    """The window of ``model`` (default: the grading model) as the configuration knows it."""
    margin = 0.0 if settings.openai_endpoint else settings.context_margin
    if settings.context_window_tokens is not None:
        return ContextLimit(settings.context_window_tokens, "configured", margin)
    known = known_window(model or settings.model) if settings.openai_endpoint else None
    if known is not None:
        return ContextLimit(known, "known", margin)
    return ContextLimit(None, "unknown", margin)


def planning_window(settings: JudgeSettings) -> int:
    """The tokens a protocol may budget a prompt plus its answer against: the grading model's
    window (or the assumed one while unknown), less the margin."""
    limit = context_limit(settings)
    return int((limit.tokens or ASSUMED_WINDOW) * (1 - limit.margin))


def output_cap(settings: JudgeSettings, model: str, leaves: int = 1) -> int:
    """The output cap of one call: ``judge.max_output_tokens``, else by model family (reasoning
    models: 32,768 a call, reasoning included; others 1,024 a leaf graded, at most 16,384)."""
    if settings.max_output_tokens is not None:
        return settings.max_output_tokens
    if is_reasoning_model(model):
        return REASONING_OUTPUT_CAP
    return min(OUTPUT_CAP_PER_LEAF * max(leaves, 1), OUTPUT_CAP_MAX)


def prompt_tokens(messages: Sequence[tuple[str, str]]) -> int:
    return count_tokens(flatten_messages(messages))


def refusal(settings: JudgeSettings, limit: ContextLimit, model: str, n_prompt: int) -> str | None:
    """Why a prompt of ``n_prompt`` tokens cannot be sent to ``model``, or None when it fits."""
    room = limit.room(n_prompt)
    if room is None or room >= settings.min_output_tokens:
        return None
    return (
        f"a prompt of {n_prompt:,} tokens cannot fit {model}'s {limit.describe()}"
        f" with {settings.min_output_tokens:,} tokens left for the answer"
        + (f" ({limit.margin:.0%} kept free for the server's tokenizer)" if limit.margin else "")
    )


# ------------------------------------------------------------------------------ the planner's check


PlannedCalls = Sequence[tuple[str, Sequence[tuple[str, str]], int]]  # (model, messages, expected output)


class PlannedItem(Protocol):
    """What ``screen`` needs of a work item (judge.plan.WorkItem): its leaves."""

    @property
    def leaves(self) -> tuple[LeafRef, ...]: ...


@dataclass(frozen=True)
class ContextScreen:
    """The planner's check of every item against the context: what is kept, what is refused (each
    leaf with its reason) and the one line the run says about it."""

    kept: tuple[Any, ...]  # the items that fit (the planner's own item type)
    refused: tuple[tuple[LeafRef, str], ...] = ()
    line: str | None = None


def screen(
    items: Sequence[Any], settings: JudgeSettings, calls_of: Callable[[Any], PlannedCalls]
) -> ContextScreen:
    """Refuse, before any call, the items whose planned calls (``calls_of(item)``: what the protocol
    says it would send, as for ``--estimate``) cannot fit their model's window."""
    kept: list[Any] = []
    refused: list[tuple[LeafRef, str]] = []
    sizes: list[int] = []
    limits: dict[str, ContextLimit] = {}
    for item in items:
        why = None
        for model, messages, _ in calls_of(item):
            limit = limits.setdefault(model, context_limit(settings, model))
            if limit.tokens is None:
                continue
            n = prompt_tokens(messages)
            why = refusal(settings, limit, model, n)
            if why:
                sizes.append(n)
                break
        if why:
            refused += [(ref, why) for ref in item.leaves]
        else:
            kept.append(item)
    if not refused:
        return ContextScreen(tuple(kept))
    window = min(lim.tokens for lim in limits.values() if lim.tokens is not None)
    line = (
        f"{len(refused)} leaves refused before any call: their prompts ({min(sizes):,} to {max(sizes):,} "
        f"tokens) cannot fit the context window of {window:,} tokens with "
        f"{settings.min_output_tokens:,} left for the answer (judge.context_window_tokens, a model "
        "with a larger window, or smaller judge budgets)"
    )
    return ContextScreen(tuple(kept), tuple(refused), line)
