"""How scores, numbers and times look, the same in the Markdown and HTML renderers.

Score bands: one rule for the check's conclusion, the comment's icons and the report's badges.
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


def pct(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None else f"{100 * x:.{digits}f}%"


def pts(delta: float) -> str:
    """A score change in percentage points, signed."""
    v = 100 * delta
    if abs(v) < 0.05:
        return "±0.0 pts"
    return f"{v:+.1f} pts"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    if h:
        return f"{h}h {m:02d}m {sec:02d}s"
    if m:
        return f"{m}m {sec:02d}s"
    return f"{seconds:.1f}s" if seconds < 10 else f"{sec}s"


def usd(x: float | None) -> str:
    if x is None:
        return "n/a"
    return f"${x:.4f}" if x < 1 else f"${x:,.2f}"


def weight(w: float) -> str:
    return str(int(w)) if float(w).is_integer() else f"{w:g}"


def short_sha(sha: str | None) -> str:
    return (sha or "")[:7]
