"""Untrusted text for prompts: strip invisible and bidi characters, and fence it.

Everything that comes back from a run (files, file names, the log) is data written by the
submitter. It is cleaned of characters a human reviewer cannot see (zero-width, bidi overrides,
other format and control characters), every line or paragraph separator (``\r``, ``\v``, ``\f``,
``\x1c``-``\x1e``, NEL, U+2028, U+2029: whatever ``str.splitlines`` or a reader may break a line
at) becomes a newline, and the text is wrapped in a fence whose marker carries a hash of the
content, so text inside cannot close the fence early; lines that imitate a fence are defused.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

FENCE_OPEN = "<<<UNTRUSTED"
FENCE_CLOSE = "<<<END UNTRUSTED"
_KEEP_CONTROLS = {"\n", "\t"}
_FENCE_LIKE = re.compile(r"^(\s*)(<<<\s*(END\s+)?UNTRUSTED)", re.IGNORECASE | re.MULTILINE)
_LINE_BREAKS = re.compile("\r\n|[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def _drop(ch: str) -> bool:
    if ch in _KEEP_CONTROLS:
        return False
    cat = unicodedata.category(ch)
    # Cf: format chars (ZWSP, ZWJ, bidi embeddings/overrides/isolates, BOM, tag characters);
    # Cc: control chars; Co/Cs/Cn: private use, surrogates, unassigned.
    return cat in ("Cf", "Cc", "Co", "Cs", "Cn")


def strip_invisible(text: str) -> str:
    text = _LINE_BREAKS.sub("\n", text)
    if text.isascii():
        return "".join(ch for ch in text if (" " <= ch < "\x7f") or ch in _KEEP_CONTROLS)
    return "".join(ch for ch in text if not _drop(ch))


def clean_label(label: str, limit: int = 300) -> str:
    """A one-line label (a file name, say) with no invisible characters or newlines."""
    one_line = " ".join(strip_invisible(label).split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


def fence(label: str, text: str) -> str:
    body = _FENCE_LIKE.sub(lambda m: f"{m.group(1)}[defused] {m.group(2)}", strip_invisible(text))
    tag = hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    name = clean_label(label)
    return f"{FENCE_OPEN} {tag} {name}>>>\n{body}\n{FENCE_CLOSE} {tag}>>>\n"
