"""Citations: the evidence a judge says it relied on, checked against the executed submission.

The parse step of either protocol extracts, beside the verdict, the quotes the judge cited: a file
of the submission (or ``reproduce.log``), optionally a line range, and the quoted text. A quote is
``found`` when, with whitespace normalised (runs of whitespace become one space), it occurs in
that file as the run left it (for a line range: within those lines, a few lines of slack either
side). Citations are stored in each leaf's ``judge_metadata["citations"]``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runner.layout import REPRODUCE_LOG

LOG_FILE = REPRODUCE_LOG  # the run's log, as a citation names it
MAX_CITATIONS = 8
MAX_QUOTE_CHARS = 500
LINE_SLACK = 3
_WS = re.compile(r"\s+")

CITATIONS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "file": {"type": "string"},
            "lines": {"anyOf": [{"type": "array", "items": {"type": "integer"}}, {"type": "null"}]},
            "quote": {"type": "string"},
        },
        "required": ["file", "lines", "quote"],
        "additionalProperties": False,
    },
}


def normalise_ws(text: str) -> str:
    return _WS.sub(" ", text).strip()


@dataclass(frozen=True, slots=True)
class Citation:
    file: str  # path relative to the submission, or "reproduce.log"
    lines: tuple[int, int] | None  # 1-based, inclusive
    quote: str
    found: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "lines": list(self.lines) if self.lines is not None else None,
            "quote": self.quote,
            "found": self.found,
        }

    @classmethod
    def from_raw(cls, raw: Any) -> Citation | None:
        """One citation from loosely shaped JSON (a model's answer or a stored tree); None if unusable."""
        if not isinstance(raw, Mapping):
            return None
        file, quote = raw.get("file"), raw.get("quote")
        if not isinstance(file, str) or not file.strip() or not isinstance(quote, str):
            return None
        lines: tuple[int, int] | None = None
        span = raw.get("lines")
        if isinstance(span, Sequence) and not isinstance(span, str) and span:
            nums = [int(x) for x in span if isinstance(x, int | float) and not isinstance(x, bool)]
            if nums:
                lo, hi = min(nums[0], nums[-1]), max(nums[0], nums[-1])
                lines = (max(lo, 1), max(hi, 1))
        found = raw.get("found") is True
        return cls(file.strip().removeprefix("./"), lines, quote[:MAX_QUOTE_CHARS], found)


def parse_citations(raw: Any) -> tuple[Citation, ...]:
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        return ()
    out = [c for c in (Citation.from_raw(r) for r in raw[: MAX_CITATIONS * 2]) if c is not None]
    return tuple(out[:MAX_CITATIONS])


class SubmissionText:
    """Files of an executed submission by path (``reproduce.log`` included), normalised once."""

    def __init__(self, read: Callable[[str], str | None]) -> None:
        self.read = read
        self._normalised: dict[str, str | None] = {}

    def normalised(self, path: str) -> str | None:
        if path not in self._normalised:
            text = self.read(path)
            self._normalised[path] = normalise_ws(text) if text is not None else None
        return self._normalised[path]


def check_citations(
    citations: Sequence[Citation], read: Callable[[str], str | None] | SubmissionText
) -> tuple[Citation, ...]:
    """Each citation with ``found`` set: ``read(path)`` gives the file's text as the run left it
    (``reproduce.log`` included), or None when there is no such readable file."""
    source = read if isinstance(read, SubmissionText) else SubmissionText(read)
    out = []
    for c in citations:
        text = source.read(c.file)
        quote = normalise_ws(c.quote)
        found = False
        if text is not None and quote:
            if c.lines is not None:
                all_lines = text.splitlines()
                lo = max(c.lines[0] - 1 - LINE_SLACK, 0)
                hi = min(c.lines[1] + LINE_SLACK, len(all_lines))
                found = quote in normalise_ws("\n".join(all_lines[lo:hi]))
            if not found:
                found = quote in (source.normalised(c.file) or "")
        out.append(Citation(c.file, c.lines, c.quote, found))
    return tuple(out)


def citations_metadata(citations: Sequence[Citation]) -> list[dict[str, Any]]:
    return [c.to_dict() for c in citations]
