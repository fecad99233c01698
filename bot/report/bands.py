"""Score bands: one rule for the check's conclusion, the comment's icons and the report's badges.

A node whose score reaches the pass threshold (``bot.pass_threshold``, recorded in submission.json)
is in the *pass* band, exactly where the check run says success; above zero but below it *partial*;
zero *fail*. A leaf is 0 or 1, so its band is its verdict; a leaf that could not be graded is
*invalid* whatever its band.
"""

from __future__ import annotations

from typing import Literal

DEFAULT_PASS_THRESHOLD = 0.5  # bot.pass_threshold's default

Band = Literal["pass", "partial", "fail", "invalid"]
ICONS: dict[Band, str] = {"pass": "✅", "partial": "🟡", "fail": "❌", "invalid": "⚠️"}


def band(score: float, threshold: float = DEFAULT_PASS_THRESHOLD, *, invalid: bool = False) -> Band:
    if invalid:
        return "invalid"
    if score >= threshold - 1e-9:
        return "pass"
    return "partial" if score > 1e-9 else "fail"
