"""The paperbench protocol's evidence, by SimpleJudge's rules (PAPERBENCH.md section 2).

- The log: the first 200,000 characters of ``reproduce.log`` (read before any reduction), reduced
  (judge.logreduce, ``paperbench`` style), cut to the first half of the context window in tokens;
  then, when paper and log together exceed the window, the log is cut to leave the paper 5,000
  tokens of room, and if the paper alone still does not fit, the paper too.
- The context left to a category: the window minus the paper, the log (except Code Development)
  and a buffer (10,000 tokens).
- The tree a ranking call sees: every whitelisted file of the leaf's category, drawn whole if it
  is shorter than the context left; else only files at most four folders deep; else that tree cut
  to the context left. Result Analysis is graded only if the run touched one of its files (looked
  for again among the depth-limited files when the tree had to be limited).
- The ranked files: the first ten lines of the answer, each read if it names a readable path of the
  submission (whitelisted or not; blank or unknown lines use up their slot; a path starting with
  ``/`` is never read; nothing outside the submission is), each capped at 200,000 characters,
  concatenated until the context left minus 2,000 tokens, the last one cut in token space and its
  partial last line dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

from judge.evidence import ExecutedSubmission
from judge.fences import fence
from judge.protocols.common import category_paths, ra_outputs_exist
from judge.protocols.paperbench_prompts import TOP_FILES
from judge.protocols.tree import render_tree
from judge.rubric import CODE_DEVELOPMENT, CODE_EXECUTION, RESULT_ANALYSIS
from judge.tokens import encode, encoding, encoding_for_model

CATEGORIES = (CODE_DEVELOPMENT, CODE_EXECUTION, RESULT_ANALYSIS)
PAPER_ROOM_TOKENS = 5_000
FILES_BUFFER_TOKENS = 2_000
TREE_MAX_DEPTH = 4
EMPTY_FILE = "(the file is empty)"


@dataclass(frozen=True)
class Window:
    """The paper and the log as the grading call shows them, and the context left per category."""

    paper: str
    log: str
    avail: dict[str, int]


def _decode(ids: list[int], model: str | None) -> str:
    return encoding(encoding_for_model(model)).decode(ids)


def fit_window(paper: str, log: str, window: int, buffer: int, model: str | None = None) -> Window:
    paper_ids, log_ids = encode(paper, model), encode(log, model)[: window // 2]
    if window - len(log_ids) - len(paper_ids) < 0:
        log_ids = log_ids[: max(window - len(paper_ids) - PAPER_ROOM_TOKENS, 0)]
    if window - len(log_ids) - len(paper_ids) < 0:
        paper_ids = paper_ids[: max(window - len(log_ids) - PAPER_ROOM_TOKENS, 0)]
    p, lg = len(paper_ids), len(log_ids)
    avail = {CODE_DEVELOPMENT: window - p - buffer}
    avail[CODE_EXECUTION] = avail[RESULT_ANALYSIS] = window - p - lg - buffer
    return Window(_decode(paper_ids, model), _decode(log_ids, model), avail)


def _within_depth(path: str) -> bool:
    return path.count("/") <= TREE_MAX_DEPTH


@dataclass(frozen=True)
class CategoryTree:
    text: str
    depth_limited: bool
    cut: bool
    ra_touched: bool  # Result Analysis: did the run touch a file the tree was drawn from?


def category_tree(
    sub: ExecutedSubmission, category: str, avail: int, model: str | None = None
) -> CategoryTree:
    paths = category_paths(sub, category)
    touched = ra_outputs_exist(sub, paths)
    text = render_tree(paths)
    if len(encode(text, model)) < avail:
        return CategoryTree(text, False, False, touched)
    limited = [p for p in paths if _within_depth(p)]
    touched = touched and ra_outputs_exist(sub, limited)
    text = render_tree(limited)
    ids = encode(text, model)
    if len(ids) < avail:
        return CategoryTree(text, True, False, touched)
    return CategoryTree(_decode(ids[: max(avail, 0)], model), True, True, touched)


def answer_lines(answer: str) -> list[str]:
    """The answer's first ten lines, as the paths they name (blank ones kept: they use a slot)."""
    return [line.strip() for line in answer.split("\n")[:TOP_FILES]]


def ranked_files(
    sub: ExecutedSubmission, answer: str, budget_tokens: int, model: str | None = None
) -> tuple[str, tuple[str, ...]]:
    """The files the ranking answer names, read and concatenated within ``budget_tokens``; and the
    paths actually shown."""
    parts: list[str] = []
    shown: list[str] = []
    total = 0
    for line in answer_lines(answer):
        if line.startswith("/"):
            continue  # PaperBench reads it, then cannot name it relative to the submission: skipped
        path = "/".join(p for p in line.strip("/").split("/") if p not in ("", "."))
        content = sub.read_as_paperbench(path)
        if content is None:
            continue
        label = f"file {path}"
        block = fence(label, content if content.strip() else EMPTY_FILE) + "\n\n"
        n = len(encode(block, model))
        if total + n <= budget_tokens:
            parts.append(block)
            shown.append(path)
            total += n
            continue
        room = budget_tokens - total - len(encode(fence(label, "") + "\n\n", model))
        if room > 0:
            cut = _decode(encode(content, model)[:room], model).rsplit("\n", 1)[0]
            parts.append(fence(label, cut + "\n[... the rest of this file did not fit ...]") + "\n\n")
            shown.append(path)
        break
    return "".join(parts).rstrip("\n"), tuple(shown)
