"""Evidence chosen without a model: files ranked for a requirement, and taken within a budget.

Files are ranked for a requirement by lexical overlap (idf-weighted terms shared with the file's
path and contents): the reprobot protocol chooses its evidence this way, without a ranking call,
and ``--estimate`` uses it to guess the paperbench protocol's ranked files. Budgets are real token
counts (judge.tokens).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence

from judge.evidence import SubmissionFile
from judge.tokens import count_tokens, head_tail_tokens, truncate_tokens

_TERM = re.compile(r"[a-z][a-z0-9]{2,}")
_STOP = frozenset(
    "the and for with that this from are was were been has have had not but all any can its into "
    "than then them they their there which when where what who how should must will would could "
    "each such also using use used via per one two code implemented implementation run runs "
    "reproduce results result paper section table figure".split()
)


def terms(text: str) -> list[str]:
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text).lower().replace("_", " ")
    return [t for t in _TERM.findall(text) if t not in _STOP]


class FileRanker:
    """idf-weighted lexical overlap between a requirement and each file's path and contents."""

    def __init__(self, files: Sequence[SubmissionFile]) -> None:
        self.files = [f for f in files if f.text]
        self._terms = {f.path: (frozenset(terms(f.path)), Counter(terms(f.text or ""))) for f in self.files}
        n = max(len(self.files), 1)
        df: Counter[str] = Counter()
        for path_terms, counts in self._terms.values():
            df.update(set(counts) | path_terms)
        self.idf = {t: math.log(1 + n / c) for t, c in df.items()}

    def rank(
        self, query: str | Counter[str], among: Iterable[SubmissionFile] | None = None
    ) -> list[SubmissionFile]:
        q = query if isinstance(query, Counter) else Counter(terms(query))
        pool = self.files if among is None else [f for f in among if f.text and f.path in self._terms]
        scored = []
        for f in pool:
            path_terms, counts = self._terms[f.path]
            s = 0.0
            for t, qn in q.items():
                idf = self.idf.get(t)
                if idf is None:
                    continue
                w = 3.0 if t in path_terms else 0.0
                tf = counts.get(t, 0)
                if tf:
                    w += 1.0 + math.log(tf)
                s += idf * w * (1.0 + math.log(qn))
            scored.append((-s, f.path, f))
        scored.sort(key=lambda x: (x[0], x[1]))
        return [f for neg, _, f in scored if neg < 0] + [f for neg, _, f in scored if neg >= 0]


def take_within(
    files: Iterable[SubmissionFile], budget_tokens: int, exclude: frozenset[str] = frozenset()
) -> list[tuple[SubmissionFile, str]]:
    """Files in the given order while they fit (real token counts); the first one that does not
    fit is cut to fit."""
    out: list[tuple[SubmissionFile, str]] = []
    left = budget_tokens
    for f in files:
        if f.path in exclude or not f.text:
            continue
        if left < 100:
            break
        text, cut = truncate_tokens(f.text, left - 20)
        if cut:
            text += "\n[... file cut here to fit the evidence budget ...]\n"
        out.append((f, text))
        left -= count_tokens(text)
    return out


def head_tail(text: str, budget_tokens: int) -> str:
    return head_tail_tokens(text, budget_tokens, "\n[... {n} tokens cut from the middle ...]\n")
