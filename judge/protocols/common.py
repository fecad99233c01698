"""What both protocols share: PaperBench's per-category file whitelists and the Result Analysis
rule, the preceding criteria with SimpleJudge's semantics, the joined addendum, and a flat file tree
bounded in tokens whatever the submission's shape (the reprobot protocol's).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from judge.evidence import ExecutedSubmission, SubmissionFile, in_skipped_dir
from judge.fences import clean_label
from judge.papers import Paper
from judge.rubric import RESULT_ANALYSIS, RubricNode
from judge.tokens import count_tokens

Message = tuple[str, str]  # (role, content) of a chat request
DOC_EXT = frozenset({".md", ".txt", ".rst"})
CODE_EXT = frozenset(
    ".py .R .Rmd .m .jl .c .h .cpp .hpp .cc .cxx .hxx .java .js .ts .scala .go .rs .sh .config .cfg "
    ".json .yaml .yml .toml .ini".split()
)
TABLE_EXT = frozenset(
    ".csv .tsv .psv .json .jsonl .html .xml .yaml .yml .toml .arff .tex .svm .libsvm".split()
)
NO_ADDENDUM = "(no addendum was given for this paper)"
NO_OUTPUTS_EXPLANATION = (
    "The run touched no documentation or table file (the only files Result Analysis may consider), "
    "so there is no output to check this result against (scored 0 without a model call)."
)


def suffix(path: str) -> str:
    """The file's extension as PaperBench compares it (pathlib's suffix: case kept, ``.bashrc`` has none)."""
    return PurePosixPath(path).suffix


def whitelisted(path: str, category: str | None, touched: frozenset[str]) -> bool:
    """PaperBench's whitelist: may a leaf of ``category`` see this file? (``reproduce.sh`` is code.)"""
    if in_skipped_dir(path):
        return False
    ext = suffix(path)
    if category == RESULT_ANALYSIS:
        return ext in DOC_EXT or (ext in TABLE_EXT and path in touched)
    return ext in DOC_EXT or ext in CODE_EXT


def category_files(sub: ExecutedSubmission, category: str | None) -> list[SubmissionFile]:
    return [f for f in sub.files if whitelisted(f.path, category, sub.touched)]


def category_paths(sub: ExecutedSubmission, category: str | None) -> list[str]:
    """Every whitelisted path (read or only listed) for the category, in walk order."""
    return [p for p in sub.paths if whitelisted(p, category, sub.touched)]


def ra_outputs_exist(sub: ExecutedSubmission, paths: Iterable[str] | None = None) -> bool:
    """PaperBench's rule: Result Analysis is graded only if the run touched a file Result Analysis
    may see (a doc, or a table)."""
    candidates = sub.paths if paths is None else paths
    return any(p in sub.touched and whitelisted(p, RESULT_ANALYSIS, sub.touched) for p in candidates)


def joined_addendum(paper: Paper) -> str:
    """The addendum and the judge addendum as PaperBench joins them for its judge: one newline
    between them, the whole stripped; a placeholder when both are empty."""
    joined = f"{paper.addendum or ''}\n{paper.judge_addendum or ''}".strip()
    return joined or NO_ADDENDUM


@dataclass(frozen=True)
class LeafRef:
    leaf: RubricNode
    ancestors: tuple[RubricNode, ...]  # root first
    preceding: tuple[tuple[int, RubricNode], ...] = ()  # (depth, node), SimpleJudge's semantics


def leaf_refs(rubric: RubricNode, cap: int | None = None) -> tuple[LeafRef, ...]:
    """Every leaf in tree order with its ancestors and its preceding criteria, as PaperBench's
    ``get_prior_nodes`` finds them: the root, then at each level the preceding siblings and the
    node itself down to the leaf (the leaf excluded), found by id (a repeated id: its first place in
    the tree); with ``cap``, only the last ``cap`` of them."""
    first_path: dict[str, tuple[RubricNode, ...]] = {}

    def paths(node: RubricNode, above: tuple[RubricNode, ...]) -> None:
        here = (*above, node)
        first_path.setdefault(node.id, here)
        for child in node.sub_tasks:
            paths(child, here)

    paths(rubric, ())

    def preceding(leaf: RubricNode) -> tuple[tuple[int, RubricNode], ...]:
        if leaf.id == rubric.id:
            return ()
        path = first_path[leaf.id]
        nodes: list[tuple[int, RubricNode]] = [(0, rubric)]
        for depth in range(1, len(path)):
            siblings = path[depth - 1].sub_tasks
            index = next(i for i, s in enumerate(siblings) if s.id == path[depth].id)
            nodes += [(depth, s) for s in siblings[: index + 1]]
        nodes = nodes[:-1]
        return tuple(nodes if cap is None else nodes[-cap:])

    return tuple(
        LeafRef(leaf, ancestors, preceding(leaf))
        for leaf, ancestors in rubric.walk_with_ancestors()
        if leaf.is_leaf
    )


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
