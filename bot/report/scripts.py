"""reprobot's own scripts, and the Content-Security-Policy that allows exactly them.

Each script is a fixed file of ``templates/`` (no data is ever written into it: it reads the page's
DOM), included verbatim in one ``<script>`` element, so its SHA-256 is known in advance. A page
carries ``script-src 'sha256-…'`` in its own ``<meta>`` policy (safe when opened from disk or from
GitHub Pages), and ``reprobot serve`` may send the same hashes in its header (``script_hashes``).
No inline event handler is used anywhere.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache

from markupsafe import Markup

from bot.report.templating import TEMPLATES_DIR

SCRIPTS = {"report": "report.js", "leaderboard": "leaderboard.js"}


@cache
def script_text(name: str) -> str:
    return (TEMPLATES_DIR / SCRIPTS[name]).read_text(encoding="utf-8")


def script_markup(name: str) -> Markup:
    """The script's text as the page includes it (it never holds ``</script``)."""
    text = script_text(name)
    assert "</script" not in text.lower()
    return Markup(text)


@cache
def script_hash(name: str) -> str:
    """``'sha256-…'`` of the script's text, as a CSP source."""
    digest = hashlib.sha256(script_text(name).encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def script_hashes() -> tuple[str, ...]:
    """Every reprobot script's CSP source (for a server's ``script-src``)."""
    return tuple(script_hash(name) for name in SCRIPTS)


def page_csp(*scripts: str, images: str = "data:") -> str:
    """The policy of one of reprobot's pages: nothing but its own styles, these scripts (by hash)
    and images from ``images``."""
    script_src = " ".join(script_hash(s) for s in scripts) or "'none'"
    return (
        f"default-src 'none'; style-src 'unsafe-inline'; script-src {script_src}; img-src {images}; "
        "base-uri 'none'; form-action 'self'"
    )
