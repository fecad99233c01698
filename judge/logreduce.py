"""Log reduction before any budget cut: PaperBench's rule, in time linear in the log's size.

Each line is first *sanitized* for clustering (the line itself is what is kept): a progress bar
(a percentage or digit before ``|`` and a bar of ``█``/``=``, a ``B/s`` rate, ``d%|``, two block
glyphs) becomes ``<PROGRESS_BAR>`` whole; ISO timestamps, dates, times, IP addresses and long hex
ids are masked. Lines are then clustered by template with the rules of Drain as PaperBench runs it
(drain3's defaults: the token count and the first token choose a leaf, numbers are parameters, a
line joins the most similar template of its leaf at 0.4 similarity or more, 100 children at most).

A run of consecutive lines of one template is collapsed:
- ``paperbench`` style: its first line, then ``  (repeated N times)`` on a line of its own;
- ``reprobot`` style: a run of at most ``TABLE_ROWS`` lines is kept whole (a result table's rows
  share a template and must not be dropped), a longer one keeps its first and its last line with
  the count between them (the last epoch of a training run is the one that matters).

Bounded: Drain compares a line with every template of its leaf, so distinct lines that share their
first token take quadratic time (an 8 MiB log would hold a judge for hours). Here a leaf compares
a line with its ``CANDIDATES`` most recently used templates, in creation order: the same output as
Drain whenever no leaf holds more templates than that (ordinary logs), linear time always. A log
over ``max_chars``, or a reduction past ``deadline_s``, is not reduced: its head and tail are kept,
and ``ReducedLog.fallback`` says so (the judge summary and report name it as a caveat).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from operator import eq
from typing import Literal

from judge.tokens import count_tokens, head_tail_tokens

Style = Literal["paperbench", "reprobot"]
PARAM = "<*>"
SIMILARITY = 0.4
MAX_CHILDREN = 100
CANDIDATES = 64
TABLE_ROWS = 48
MAX_CHARS = 64 * 1024 * 1024
DEADLINE_S = 120.0
FALLBACK_KEEP_CHARS = 400_000  # head + tail kept when the reduction is not done

_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T[0-9:.]+Z")
_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
_TIME = re.compile(r"\b\d{2}:\d{2}:\d{2}\b")
# search-equivalent to the progress-bar patterns, written so that no search can go quadratic
_BAR = re.compile(r"\d%?\|[█=]|B/s|\d%\s*\||[▏▎▍▌▋▊▉]{2}")
_IP = re.compile(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b")
_HEX = re.compile(r"\b[0-9a-fA-F]{8,}\b")


def sanitize(line: str) -> str:
    """The line as clustering sees it (PaperBench's masks, in its order)."""
    line = _TIMESTAMP.sub("<TIMESTAMP>", line)
    line = _DATE.sub("<DATE>", line)
    line = _TIME.sub("<TIME>", line)
    if _BAR.search(line):
        line = "<PROGRESS_BAR>"
    line = _IP.sub("<IP>", line)
    return _HEX.sub("<HEX>", line)


def _has_digit(token: str) -> bool:
    return any(ch.isdigit() for ch in token)


class _Leaf:
    """A leaf's templates: their ids in creation order, and when each was last used."""

    __slots__ = ("ids", "used")

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.used: dict[int, int] = {}

    def touch(self, tid: int, now: int, limit: int) -> None:
        new = tid not in self.used
        self.used[tid] = now
        if new:
            self.ids.append(tid)  # ids only grow: the list stays in creation order
            if len(self.ids) > limit:
                oldest = min(self.ids, key=self.used.__getitem__)
                self.ids.remove(oldest)
                del self.used[oldest]


class TemplateClusters:
    """Drain's clustering (drain3's defaults), each leaf bounded to its ``candidates`` most recently
    used templates. ``add`` returns the id of the template a line joins."""

    def __init__(self, candidates: int = CANDIDATES) -> None:
        self.candidates = candidates
        self.templates: list[tuple[str, ...]] = []  # by id
        self.params: list[int] = []  # PARAM count of each template
        self._by_length: dict[int, tuple[_Leaf, dict[str, _Leaf]]] = {}
        self._empty: int | None = None
        self._lines = 0

    def _search_leaf(self, tokens: list[str]) -> _Leaf | None:
        level = self._by_length.get(len(tokens))
        if level is None:
            return None
        own, children = level
        if len(tokens) == 1:
            return own
        return children.get(tokens[0]) or children.get(PARAM)

    def _leaf_for_new(self, tokens: list[str]) -> _Leaf:
        own, children = self._by_length.setdefault(len(tokens), (_Leaf(), {}))
        if len(tokens) == 1:
            return own
        first = tokens[0]
        if first in children:
            return children[first]
        if _has_digit(first):
            return children.setdefault(PARAM, _Leaf())
        if PARAM in children:
            if len(children) < MAX_CHILDREN:
                return children.setdefault(first, _Leaf())
            return children[PARAM]
        if len(children) + 1 < MAX_CHILDREN:
            return children.setdefault(first, _Leaf())
        return children.setdefault(PARAM, _Leaf())

    def _best(self, leaf: _Leaf, tokens: list[str]) -> int | None:
        """The most similar template (ties: the one with more parameters, then the oldest), if its
        similarity reaches the threshold. Similarity is the share of positions where the template
        holds the line's token (a parameter never counts); all templates of a leaf have the line's
        length, so comparing counts compares similarities."""
        stars = PARAM in tokens  # a literal "<*>" in the line never matches a template's parameter
        templates, params = self.templates, self.params
        best, best_same, best_params = None, -1, -1
        for tid in leaf.ids:
            tpl = templates[tid]
            same = sum(map(eq, tpl, tokens))
            if stars:
                same -= sum(1 for a, b in zip(tpl, tokens, strict=True) if a == PARAM and b == PARAM)
            if same > best_same or (same == best_same and params[tid] > best_params):
                best, best_same, best_params = tid, same, params[tid]
        return best if float(best_same) / len(tokens) >= SIMILARITY else None

    def add(self, line: str) -> int:
        self._lines += 1
        tokens = line.split()
        if not tokens:
            if self._empty is None:
                self._empty = self._new(tokens, None)
            return self._empty
        leaf = self._search_leaf(tokens)
        tid = self._best(leaf, tokens) if leaf is not None else None
        if tid is None:
            return self._new(tokens, self._leaf_for_new(tokens))
        tpl = self.templates[tid]
        if any(a != b for a, b in zip(tpl, tokens, strict=True)):
            merged = tuple(a if a == b else PARAM for a, b in zip(tpl, tokens, strict=True))
            self.templates[tid], self.params[tid] = merged, merged.count(PARAM)
        assert leaf is not None
        leaf.touch(tid, self._lines, self.candidates)
        return tid

    def _new(self, tokens: list[str], leaf: _Leaf | None) -> int:
        tid = len(self.templates)
        self.templates.append(tuple(tokens))
        self.params.append(tokens.count(PARAM))
        if leaf is not None:
            leaf.touch(tid, self._lines, self.candidates)
        return tid


@dataclass(frozen=True, slots=True)
class ReducedLog:
    text: str
    lines_in: int
    lines_out: int
    fallback: str | None = None  # why the log was not reduced (head and tail kept instead)


def _collapse(lines: list[str], run: list[int], style: Style, out: list[str]) -> None:
    """Append the run of lines ``lines[run[0]:run[1]]`` (one template) to ``out``."""
    first, end = run
    n = end - first
    if n == 1:
        out.append(lines[first])
    elif style == "paperbench":
        out += [lines[first], f"  (repeated {n} times)"]
    elif n <= TABLE_ROWS:
        out += lines[first:end]
    else:
        out += [lines[first], f"  (... {n - 2} more lines of this form ...)", lines[end - 1]]


def fallback_text(text: str, keep_chars: int) -> str:
    if len(text) <= keep_chars:
        return text
    half = keep_chars // 2
    cut = len(text) - 2 * half
    return f"{text[:half]}\n[... {cut} characters of the log not shown ...]\n{text[len(text) - half :]}"


def reduce_log(
    text: str,
    style: Style = "paperbench",
    *,
    max_chars: int = MAX_CHARS,
    deadline_s: float = DEADLINE_S,
    clock: Callable[[], float] = time.monotonic,
) -> ReducedLog:
    """Collapse runs of lines of one template; lines are ``str.splitlines`` lines, as PaperBench's."""
    lines = text.splitlines()
    if len(text) > max_chars:
        why = f"the log has {len(text):,} characters, over the {max_chars:,} reduced: head and tail shown"
        return ReducedLog(fallback_text(text, FALLBACK_KEEP_CHARS), len(lines), 0, why)
    clusters = TemplateClusters()
    deadline = clock() + deadline_s
    out: list[str] = []
    run_start, run_id = 0, -1
    for i, line in enumerate(lines):
        if i % 256 == 255 and clock() > deadline:
            why = f"reducing the log took over {deadline_s:g} s: head and tail shown"
            return ReducedLog(fallback_text(text, FALLBACK_KEEP_CHARS), len(lines), 0, why)
        tid = clusters.add(sanitize(line))
        if tid != run_id:
            if i:
                _collapse(lines, [run_start, i], style, out)
            run_start, run_id = i, tid
    if lines:
        _collapse(lines, [run_start, len(lines)], style, out)
    return ReducedLog("\n".join(out), len(lines), len(out))


CUT_MARKER = "\n[... {n} tokens of the log cut from the middle to fit the budget ...]\n"


def fit_tokens(reduced: str, budget_tokens: int) -> str:
    """A reduced log within ``budget_tokens``: head and tail kept."""
    if count_tokens(reduced) <= budget_tokens:
        return reduced
    return head_tail_tokens(reduced, budget_tokens, CUT_MARKER)


def fit_log(text: str, budget_tokens: int, style: Style = "reprobot") -> str:
    """The log reduced, then within ``budget_tokens`` (head and tail kept)."""
    return fit_tokens(reduce_log(text, style).text, budget_tokens)
