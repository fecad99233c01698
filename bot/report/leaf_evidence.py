"""The evidence a verdict cites: ``judge_metadata["citations"]`` of a graded leaf, read once, loosely.

The judge writes, per graded leaf, a list of ``{"file": str, "lines": [start, end] | null,
"quote": str, "found": bool}`` (``file`` is ``reproduce.log`` for a log excerpt), extracted by the
parsing step and checked against the executed submission. Anything else in that list (a wrong type,
a missing key) is dropped here, at the edge, so the renderers only ever see ``Citation`` records.
When ``found`` is absent, the quote is checked here against the result folder's executed files.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from bot.results import EXECUTED_DIR, REPRODUCE_LOG
from judge.graded import GradedNode

CITATIONS_KEY = "citations"
MAX_CITATIONS = 20  # per leaf; more are counted, not shown
QUOTE_CHARS = 600
MAX_CHECK_BYTES = 10 * 1024 * 1024  # files over 10 MB are dropped before judging (PaperBench)
MAX_PATH_CHARS = 1024  # a cited name longer than this, or with a part over 255 bytes, names no file
MAX_NAME_BYTES = 255
MAX_LINE = 10_000_000  # a line number past this is no line of a submitted file


@dataclass(frozen=True, slots=True)
class Citation:
    file: str  # relative to the submission's root; "reproduce.log" for the run's log
    start: int | None
    end: int | None
    quote: str
    found: bool | None  # None: could not be checked

    @property
    def is_log(self) -> bool:
        return self.file == REPRODUCE_LOG

    @property
    def where(self) -> str:
        if self.start is None:
            return self.file
        if self.end is None or self.end == self.start:
            return f"{self.file}:{self.start}"
        return f"{self.file}:{self.start}-{self.end}"


@dataclass(frozen=True, slots=True)
class LeafEvidence:
    citations: tuple[Citation, ...]
    more: int  # cited beyond MAX_CITATIONS

    @property
    def none(self) -> bool:
        return not self.citations

    @property
    def not_found(self) -> int:
        return sum(1 for c in self.citations if c.found is False)


NO_EVIDENCE = LeafEvidence((), 0)


def safe_relpath(raw: str) -> str | None:
    """A submission-relative POSIX path, or None for absolute paths, '..' and empty names."""
    text = raw.strip().replace("\\", "/")
    for prefix in ("./", f"{EXECUTED_DIR}/"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    if not text or len(text) > MAX_PATH_CHARS or any(c in text for c in "\0\n\r"):
        return None
    path = PurePosixPath(text)
    if path.is_absolute() or ".." in path.parts:
        return None
    if any(len(part.encode("utf-8", "replace")) > MAX_NAME_BYTES for part in path.parts):
        return None  # no filesystem holds it: checking it would only fail (ENAMETOOLONG)
    return path.as_posix()


def _line(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_LINE else None


def _citation(raw: Any) -> Citation | None:
    if not isinstance(raw, Mapping):
        return None
    file = safe_relpath(raw["file"]) if isinstance(raw.get("file"), str) else None
    if file is None:
        return None
    start = end = None
    lines = raw.get("lines")
    if isinstance(lines, list | tuple) and lines:
        start = _line(lines[0])
        end = _line(lines[1]) if len(lines) > 1 else start
        if start is not None and (end is None or end < start):
            end = start
    quote = raw.get("quote")  # cut before any work: dedenting 10 MB would take minutes
    quote = textwrap.dedent(quote[: QUOTE_CHARS * 4]).strip("\n") if isinstance(quote, str) else ""
    found = raw.get("found")
    return Citation(file, start, end, quote[:QUOTE_CHARS], found if isinstance(found, bool) else None)


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _executed_file(result_dir: Path, rel: str) -> Path | None:
    """The cited file in the result folder, never followed out of it through a symlink."""
    candidates = [result_dir / EXECUTED_DIR / rel]
    if rel == REPRODUCE_LOG:
        candidates.insert(0, result_dir / REPRODUCE_LOG)
    root = result_dir.resolve()
    for path in candidates:
        try:
            if path.is_symlink() or not path.is_file() or not path.resolve().is_relative_to(root):
                continue
            if path.stat().st_size > MAX_CHECK_BYTES:
                continue
        except (OSError, ValueError):
            continue
        return path
    return None


def check_quote(result_dir: Path, citation: Citation) -> bool | None:
    """Is the quote in the cited file (whitespace-insensitive)? False for a file the executed
    submission does not have; None when it cannot be checked (a symlink, an oversized file)."""
    path = _executed_file(result_dir, citation.file)
    if path is None:
        cited = result_dir / EXECUTED_DIR / citation.file
        try:
            absent = not cited.exists() and not cited.is_symlink() and not citation.is_log
            return False if absent and (result_dir / EXECUTED_DIR).is_dir() else None  # never there
        except (OSError, ValueError):
            return None
    if not citation.quote.strip():
        return False
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return _squash(citation.quote) in _squash(text)


def evidence_of(node: GradedNode, result_dir: Path | None = None) -> LeafEvidence:
    """A leaf's citations (unchecked ones checked against ``result_dir`` when given)."""
    raw = (node.judge_metadata or {}).get(CITATIONS_KEY)
    if not isinstance(raw, list | tuple):
        return NO_EVIDENCE
    out: list[Citation] = []
    for read, item in enumerate(raw):
        if len(out) == MAX_CITATIONS:  # the rest are counted, never parsed nor checked
            return LeafEvidence(tuple(out), len(raw) - read)
        c = _citation(item)
        if c is None:
            continue
        if c.found is None and result_dir is not None:
            found = check_quote(result_dir, c)
            c = Citation(c.file, c.start, c.end, c.quote, found)
        out.append(c)
    return LeafEvidence(tuple(out), 0)
