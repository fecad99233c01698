"""The bot's one backoff rule: the first retry after ``base_s``, doubling each attempt, capped.

Job retries (``bot.jobs.lifecycle``), judge outages (``bot.pipeline``) and GitHub creates
(``bot.github.api.create_once``) all wait by it.
"""

from __future__ import annotations


def backoff_delay(base_s: float, attempt: int, cap_s: float = 6 * 3600.0) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based)."""
    return float(min(base_s * 2 ** max(attempt - 1, 0), cap_s))
