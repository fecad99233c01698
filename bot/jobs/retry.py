"""The bot's one backoff rule (the first retry after ``base_s``, doubling each attempt, capped), and
idempotent creates (look before creating again)."""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.github.api import GitHubError


def backoff_delay(base_s: float, attempt: int, cap_s: float = 6 * 3600.0) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based)."""
    return float(min(base_s * 2 ** max(attempt - 1, 0), cap_s))


def create_once(
    create: Callable[[], int],
    find: Callable[[], int | None],
    *,
    attempts: int = 3,
    backoff_s: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """An idempotent create: when a create fails (a 5xx, a read timeout: GitHub may have done it and
    lost the answer), look for the object (by ``external_id`` or comment marker) before trying
    again. Raises the last error when it neither exists nor can be created."""
    for attempt in range(1, attempts + 1):
        try:
            return create()
        except GitHubError:
            found = find()
            if found is not None:
                return found
            if attempt == attempts:
                raise
            sleep(backoff_delay(backoff_s, attempt, cap_s=30.0))
    raise AssertionError("unreachable")
