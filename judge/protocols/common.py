"""What both protocols share: PaperBench's per-category file whitelists and the Result Analysis
rule, the preceding criteria with SimpleJudge's semantics, the joined addendum, and a file tree
bounded in tokens whatever the submission's shape.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from judge.evidence import ExecutedSubmission, SubmissionFile
from judge.fences import clean_label
from judge.papers import Paper
from judge.rubric import RESULT_ANALYSIS, RubricNode
from judge.tokens import count_tokens

SKIP_PARTS = ("venv", ".venv", ".env", "wandb", ".egg-info", ".git", ".github", "__pycache__", "node_modules")
DOC_EXT = frozenset({".md", ".txt", ".rst"})
CODE_EXT = frozenset(
    ".py .R .Rmd .m .jl .c .h .cpp .hpp .cc .cxx .hxx .java .js .ts .scala .go .rs .sh .config .cfg "
    ".json .yaml .yml .toml .ini".split()
)
TABLE_EXT = frozenset(
    ".csv .tsv .psv .json .jsonl .html .xml .yaml .yml .toml .arff .tex .svm .libsvm".split()
)
Message = tuple[str, str]  # (role, content) of a chat request
NO_ADDENDUM = "(no addendum was given for this paper)"
NO_OUTPUTS_EXPLANATION = (
    "The run touched no documentation or table file (the only files Result Analysis may consider), "
    "so there is no output to check this result against (scored 0 without a model call)."
)


def _ext(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    return name[name.rfind(".") :] if "." in name else ""


def skipped(path: str) -> bool:
    return any(part in SKIP_PARTS or part.endswith(".egg-info") for part in path.split("/"))


def whitelisted(path: str, category: str | None, touched: frozenset[str]) -> bool:
    """PaperBench's whitelist: may a leaf of ``category`` see this file?"""
    if skipped(path) or path == "reproduce.sh":
        return False
    ext = _ext(path)
    if category == RESULT_ANALYSIS:
        return ext in DOC_EXT or (ext in TABLE_EXT and path in touched)
    return ext in DOC_EXT or ext in CODE_EXT


def category_files(sub: ExecutedSubmission, category: str | None) -> list[SubmissionFile]:
    touched = sub.metadata.changed_paths
    return [f for f in sub.files if whitelisted(f.path, category, touched)]


def category_paths(sub: ExecutedSubmission, category: str | None) -> list[str]:
    """Every whitelisted path (read or only listed) for the category, in tree order."""
    touched = sub.metadata.changed_paths
    paths = [f.path for f in sub.files] + list(sub.listed_only)
    return [p for p in paths if whitelisted(p, category, touched)]


def ra_outputs_exist(sub: ExecutedSubmission) -> bool:
    """PaperBench's rule: Result Analysis is graded only if the run touched a whitelisted file."""
    touched = sub.metadata.changed_paths
    return any(whitelisted(p, RESULT_ANALYSIS, touched) for p in touched)


def joined_addendum(paper: Paper) -> str:
    """The addendum and the judge addendum joined, as PaperBench joins them for its judge."""
    parts = [a.strip() for a in (paper.addendum, paper.judge_addendum) if a and a.strip()]
    return "\n\n".join(parts) if parts else NO_ADDENDUM


@dataclass(frozen=True)
class LeafRef:
    leaf: RubricNode
    ancestors: tuple[RubricNode, ...]  # root first
    preceding: tuple[tuple[int, RubricNode], ...] = ()  # (depth, node), SimpleJudge's semantics


def leaf_refs(rubric: RubricNode, cap: int | None = None) -> tuple[LeafRef, ...]:
    """Every leaf in tree order with its ancestors and its preceding criteria: the root, every
    ancestor, and the preceding siblings of the leaf and of each ancestor, in tree order
    (optionally only the last ``cap`` of them)."""
    out: list[LeafRef] = []
    Context = tuple[tuple[int, RubricNode], ...]

    def rec(node: RubricNode, ancestors: tuple[RubricNode, ...], context: Context) -> None:
        if node.is_leaf:
            pre = context if cap is None else (context[len(context) - cap :] if cap else ())
            out.append(LeafRef(node, ancestors, pre))
            return
        here = (*context, (len(ancestors), node))
        depth = len(ancestors) + 1
        for i, child in enumerate(node.sub_tasks):
            rec(child, (*ancestors, node), (*here, *((depth, s) for s in node.sub_tasks[:i])))

    rec(rubric, (), ())
    return tuple(out)


def preceding_text(preceding: Sequence[tuple[int, RubricNode]]) -> str:
    if not preceding:
        return "(none: this is the first criterion of the rubric)"
    return "\n".join(f"{'  ' * depth}- {' '.join(n.requirements.split())}" for depth, n in preceding)


def bounded_tree(paths: Iterable[str], budget_tokens: int, sizes: dict[str, int] | None = None) -> str:
    """A file tree within ``budget_tokens``: every path if it fits, else limited in depth (folders
    below the limit shown with their file counts), else cut with the number of paths left out."""
    all_paths = [clean_label(p) for p in paths]
    if not all_paths:
        return "(no files)"

    def line(p: str) -> str:
        return f"{p} ({sizes[p]} bytes)" if sizes and p in sizes else p

    full = "\n".join(line(p) for p in all_paths)
    if count_tokens(full) <= budget_tokens:
        return full
    max_depth = max(p.count("/") for p in all_paths) + 1
    for depth in range(max_depth - 1, 0, -1):
        counts: dict[str, int] = {}
        order: list[str] = []
        for p in all_paths:
            parts = p.split("/")
            key = p if len(parts) <= depth else "/".join(parts[:depth]) + "/"
            if key not in counts:
                order.append(key)
                counts[key] = 0
            counts[key] += 1
        text = "\n".join(k if not k.endswith("/") else f"{k} ({counts[k]} files below)" for k in order)
        if count_tokens(text) <= budget_tokens:
            return text + f"\n(tree limited to depth {depth}: {len(all_paths)} files in all)"
    shown: list[str] = []
    used = 0
    for p in all_paths:
        cost = count_tokens(p) + 1
        if used + cost > budget_tokens - 30:
            break
        shown.append(p)
        used += cost
    return "\n".join(shown) + f"\n(... {len(all_paths) - len(shown)} more files not listed)"
