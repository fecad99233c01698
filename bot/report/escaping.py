"""Escaping of untrusted text (judge explanations, submission metadata, rubric text) for Markdown
and HTML output.

Every function returns ``markupsafe.Markup`` so templates can tell escaped text from raw text: the
Markdown environment escapes every ``{{ }}`` value through :func:`md_inline` unless it is Markup.

What the escapes guarantee, for any input string:
- no HTML tag survives (``<``, ``>``, ``&`` become entities), so nothing can close a ``<details>``
  or open a ``<script>``/``<img>``;
- no Markdown construct survives (links, images, emphasis, code spans, headings, lists, tables,
  math): their punctuation is backslash-escaped (``-`` and ``+`` only where they could open a list,
  at the start: ``good-example`` and ``14:26:26+00:00`` stay as they are);
- no mention, issue reference or autolink is formed: a zero-width space follows ``@``, ``#``
  before a digit, and the scheme of ``http(s)://``/``www.``;
- the text stays on one line (newlines become ``<br>``), so it can sit in a table cell or a
  ``<summary>`` without ending the HTML block;
- control and bidirectional-override characters are dropped.
"""

from __future__ import annotations

import re
from functools import lru_cache

from markupsafe import Markup, escape

ZWSP = "\u200b"

# C0/C1 controls (but tab and newline), DEL, bidi embeddings/overrides/isolates, BOM.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff]")
_NEWLINES = re.compile(r"\r\n|\r|\n|\u2028|\u2029|\x85")
# Markdown-significant ASCII punctuation is backslash-escaped; '<', '>', '&' become entities.
_MD_TABLE = str.maketrans(
    {**{c: "\\" + c for c in "\\`*_{}[]()#!|~$^"}, "&": "&amp;", "<": "&lt;", ">": "&gt;"}
)
_LIST_MARKER = re.compile(r"^([-+])")
_MENTION = re.compile(r"@(?=[\w-])")
_ISSUE_REF = re.compile(r"(?<![\w&])#(?=\d)")
_GH_REF = re.compile(r"\b(GH)-(?=\d)", re.IGNORECASE)
_SCHEME = re.compile(r"\b(https?|ftp|mailto|javascript|data|file)(?=:)", re.IGNORECASE)
_WWW = re.compile(r"\b(www)(?=\.)", re.IGNORECASE)
_ORDERED = re.compile(r"^(\d+)([.)])")


def clean(text: object) -> str:
    """The text with control characters dropped and newlines normalised to ``\\n``."""
    s = "" if text is None else str(text)
    return _CONTROL.sub("", _NEWLINES.sub("\n", s))


def clip(text: object, limit: int | None) -> str:
    """At most ``limit`` characters of cleaned text, ending in an ellipsis when cut."""
    s = clean(text)
    if limit is None or len(s) <= limit:
        return s
    if limit <= 1:
        return "…"[:limit]
    return s[: limit - 1].rstrip() + "…"


def _neutralise(s: str) -> str:
    """Break mentions, issue references and autolinks with a zero-width space."""
    s = _MENTION.sub("@" + ZWSP, s)
    s = _ISSUE_REF.sub("#" + ZWSP, s)
    s = _GH_REF.sub(lambda m: m.group(1) + "-" + ZWSP, s)
    s = _SCHEME.sub(lambda m: m.group(1) + ZWSP, s)
    return _WWW.sub(lambda m: m.group(1) + ZWSP, s)


def md_inline(text: object, limit: int | None = None) -> Markup:
    """Untrusted text as literal GitHub-flavoured Markdown on one line (safe in a table cell)."""
    return Markup(_md_inline(text if isinstance(text, str) else clean(text), limit))


@lru_cache(maxsize=65_536)
def _md_inline(text: str, limit: int | None) -> str:
    s = _neutralise(clip(text, limit)).translate(_MD_TABLE)
    lines = [_LIST_MARKER.sub(r"\\\1", _ORDERED.sub(r"\1\\\2", line.strip())) for line in s.split("\n")]
    return "<br>".join(lines)


def md_code(text: object, limit: int | None = None) -> Markup:
    """Untrusted text as an inline code span (ids, paths, SHAs), on one line, pipes escaped."""
    s = clip(text, limit).replace("\n", " ")
    s = _neutralise(s)
    if not s.strip():
        return Markup("")
    longest = max((len(m) for m in re.findall(r"`+", s)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    # Inside a code span only '|' (in tables) is special to GFM; entities are not decoded there, so
    # '<' stays literal text and cannot form a tag.
    return Markup(f"{fence}{pad}{s.replace('|', chr(92) + '|')}{pad}{fence}")


def html_text(text: object, limit: int | None = None) -> Markup:
    """Untrusted text inside raw HTML of a Markdown document (e.g. a ``<summary>``), on one line."""
    s = _neutralise(clip(text, limit))
    return Markup("<br>".join(str(escape(line.strip())) for line in s.split("\n")))


def html_attr_id(text: object) -> str:
    """A string reduced to characters safe in an HTML id and a URL fragment."""
    return re.sub(r"[^A-Za-z0-9_.:-]", "_", clean(text))[:200] or "_"
