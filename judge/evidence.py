"""What a leaf's grader is shown from the executed submission, chosen without an LLM call.

An executed submission (``reprobot reproduce --out DIR``) is read once, untrusted and capped:
symlinks are never followed, binary files are listed but not read, big files are cut.
Files are ranked for a requirement by lexical overlap (idf-weighted terms shared with the file's
path and contents): the reprobot protocol chooses its evidence this way, without a ranking call,
and ``--estimate`` uses it to guess the paperbench protocol's ranked files. Budgets are real token
counts (judge.tokens).
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from judge.citations import LOG_FILE
from judge.errors import JudgeError
from judge.tokens import count_tokens, estimate_tokens, head_tail_tokens, truncate_tokens
from runner.errors import RunnerError
from runner.layout import RUN_METADATA
from runner.metadata import RunMetadata

SKIP_DIRS = frozenset(
    {".git", "__pycache__", "node_modules", ".venv", "venv", ".mypy_cache", ".pytest_cache"}
)
MAX_FILE_BYTES = 512 * 1024
MAX_FILES = 5_000
MAX_LOG_BYTES = 8 * 1024 * 1024
_TERM = re.compile(r"[a-z][a-z0-9]{2,}")
_STOP = frozenset(
    "the and for with that this from are was were been has have had not but all any can its into "
    "than then them they their there which when where what who how should must will would could "
    "each such also using use used via per one two code implemented implementation run runs "
    "reproduce results result paper section table figure".split()
)


class ExecutedSubmissionError(JudgeError):
    """The executed-submission folder cannot be read."""


def terms(text: str) -> list[str]:
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text).lower().replace("_", " ")
    return [t for t in _TERM.findall(text) if t not in _STOP]


@dataclass(frozen=True)
class SubmissionFile:
    path: str  # POSIX, relative to submission/
    size: int
    text: str | None  # None: binary or unreadable (listed, not shown)
    truncated: bool = False
    path_terms: frozenset[str] = frozenset()
    counts: Counter[str] = field(default_factory=Counter, compare=False)

    @property
    def tokens(self) -> int:
        return estimate_tokens(self.text or "")


@dataclass(frozen=True)
class ExecutedSubmission:
    root: Path
    metadata: RunMetadata
    log: str
    files: tuple[SubmissionFile, ...]
    listed_only: tuple[str, ...]  # over MAX_FILES, still named in the tree

    @property
    def reproduce_sh(self) -> str | None:
        for f in self.files:
            if f.path == "reproduce.sh":
                return f.text
        return None


def _read_text(path: Path) -> tuple[str | None, int, bool]:
    try:
        st = path.lstat()
        with path.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError:
        return None, 0, False
    truncated = len(data) > MAX_FILE_BYTES
    data = data[:MAX_FILE_BYTES]
    if b"\x00" in data[:8192]:
        return None, st.st_size, False
    return data.decode("utf-8", errors="replace"), st.st_size, truncated


def load_executed(executed: Path) -> ExecutedSubmission:
    """Read DIR/metadata.json, DIR/reproduce.log and DIR/submission/ (never through symlinks)."""
    executed = Path(executed)
    if not executed.is_dir():
        raise ExecutedSubmissionError(
            f"{executed}: not a directory (expected a `reprobot reproduce --out` folder)"
        )
    try:
        metadata = RunMetadata.read(executed / RUN_METADATA)
    except RunnerError as exc:
        raise ExecutedSubmissionError(str(exc)) from None
    log_path = executed / LOG_FILE
    log = ""
    if log_path.is_file() and not log_path.is_symlink():
        with log_path.open("rb") as fh:
            log = fh.read(MAX_LOG_BYTES).decode("utf-8", errors="replace")
    sub = executed / "submission"
    files: list[SubmissionFile] = []
    listed: list[str] = []
    if sub.is_dir() and not sub.is_symlink():
        for dirpath, dirnames, filenames in os.walk(sub, followlinks=False):
            dirnames[:] = sorted(
                d for d in dirnames if d not in SKIP_DIRS and not os.path.islink(os.path.join(dirpath, d))
            )
            for name in sorted(filenames):
                full = Path(dirpath) / name
                if full.is_symlink() or not full.is_file():
                    continue
                rel = full.relative_to(sub).as_posix()
                # a name that is not UTF-8 (the run's doing) is shown escaped: prompts and hashes need text
                rel = rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
                if len(files) >= MAX_FILES:
                    listed.append(rel)
                    continue
                text, size, truncated = _read_text(full)
                files.append(
                    SubmissionFile(
                        rel, size, text, truncated, frozenset(terms(rel)), Counter(terms(text or ""))
                    )
                )
    return ExecutedSubmission(executed, metadata, log, tuple(files), tuple(listed))


class FileRanker:
    """idf-weighted lexical overlap between a requirement and each file's path and contents."""

    def __init__(self, files: Sequence[SubmissionFile]) -> None:
        self.files = [f for f in files if f.text]
        n = max(len(self.files), 1)
        df: Counter[str] = Counter()
        for f in self.files:
            df.update(set(f.counts) | f.path_terms)
        self.idf = {t: math.log(1 + n / c) for t, c in df.items()}

    def rank(
        self, query: str | Counter[str], among: Iterable[SubmissionFile] | None = None
    ) -> list[SubmissionFile]:
        q = query if isinstance(query, Counter) else Counter(terms(query))
        pool = self.files if among is None else [f for f in among if f.text]
        scored = []
        for f in pool:
            s = 0.0
            for t, qn in q.items():
                idf = self.idf.get(t)
                if idf is None:
                    continue
                w = 3.0 if t in f.path_terms else 0.0
                tf = f.counts.get(t, 0)
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
