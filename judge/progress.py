"""Where a grade stands, as a typed event the judge sends to whoever watches (the terminal, the bot).

``planned``: the cache answered what it could, ``items_to_send`` calls (or groups of calls) remain;
``graded``: one item came back (its leaves are in ``done``). Every event carries the tokens and
dollars spent so far in this run, so a watcher can show the bill growing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from judge.summary import TokenFigures


class JudgeStage(StrEnum):
    PLANNED = "planned"
    GRADED = "graded"


@dataclass(frozen=True, slots=True)
class JudgeProgress:
    stage: JudgeStage
    done: int  # leaves with a grade (or a reason they have none) so far
    total: int  # leaves of the rubric being graded
    cached_leaves: int = 0
    items_to_send: int = 0
    leaf_ids: tuple[str, ...] = ()  # graded: the leaves of the item that came back
    calls: int = 0  # answered calls so far
    tokens: TokenFigures = field(default_factory=TokenFigures)
    cost_usd: float | None = 0.0  # None: a model without a price

    @property
    def tokens_total(self) -> int:
        return self.tokens.input + self.tokens.output

    def describe(self) -> str:
        """One plain line: leaves, calls, tokens and dollars so far."""
        if self.stage is JudgeStage.PLANNED:
            head = f"{self.cached_leaves} leaves from the cache, {self.items_to_send} items to send"
        else:
            head = f"{self.done}/{self.total} leaves graded"
        t = self.tokens
        cost = f"${self.cost_usd:.4f}" if self.cost_usd is not None else "cost unknown"
        return (
            f"{head}; {self.calls} calls, tokens in {t.input:,} (cached {t.cached_input:,}) "
            f"out {t.output:,}, {cost}"
        )


ProgressFn = Callable[[JudgeProgress], None]
