"""How scores, numbers and times look, the same in the Markdown, HTML and plain-text renderers.

Verdicts and bands: a leaf is PaperBench's 0 or 1, so its verdict is *pass* or *fail* (or *invalid*
when it could not be graded). A subtree is in a *band* by its score: *full* (every point of its
weight), *partial* (some), *none* (zero); the comment's icons and the report's badges show the same
bands in distinct colours. The check run's conclusion is not a band: a graded submission is a
``success`` whatever its score (the score is the result), see ``bot.jobs.check_runs``.

``headline`` is the one line every output starts with: the score first
("42.0% · 151/361 leaves · tiny-moons"), then what qualifies it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

Band = Literal["full", "partial", "none", "invalid"]
ICONS: dict[Band, str] = {"full": "🟢", "partial": "🟡", "none": "🔴", "invalid": "⚠️"}
VERDICT_ICONS = {"pass": "✅", "fail": "❌", "invalid": "⚠️"}
BAND_LABELS: dict[Band, str] = {"full": "full", "partial": "partial", "none": "none", "invalid": "not graded"}
_EPS = 1e-9


def band(score: float, *, invalid: bool = False) -> Band:
    """The band of a subtree's score (a leaf's score is 0 or 1: none or full)."""
    if invalid:
        return "invalid"
    if score >= 1.0 - _EPS:
        return "full"
    return "partial" if score > _EPS else "none"


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


def when(iso: str | None) -> str:
    """An ISO 8601 time as people read it: ``2026-12-02 14:26 UTC`` (the text itself when odd)."""
    if not iso:
        return "n/a"
    text = iso.strip()
    if len(text) >= 16 and text[10] == "T" and text[4] == "-" and text[13] == ":":
        zone = text[19:].lstrip(".0123456789")
        utc = zone in ("", "Z", "+00:00")
        return f"{text[:10]} {text[11:16]}" + (" UTC" if utc else f" {zone}")
    return text[:40]


def overridden_text(count: int) -> str:
    """What a grade with organizer overrides says beside its score ('' without any)."""
    if count <= 0:
        return ""
    return f"overridden ({count} leaf)" if count == 1 else f"overridden ({count} leaves)"


def headline(
    score: float,
    passed: int,
    leaves: int,
    paper: str,
    *,
    extras: Sequence[str] = (),
) -> str:
    """The line every output starts with: the score, then leaves passed, then the paper; what
    qualifies it (mode, overrides, caveats) follows, so a cut title still shows the score."""
    parts = [pct(score), f"{passed}/{leaves} leaves", paper, *(e for e in extras if e)]
    return " · ".join(parts)
