"""A directory tree drawn as PaperBench draws its ranking call's (``├──``/``└──`` under ``│``), and
read back into paths (the dummy judge and the OpenAI stand-in answer a ranking call from it).

Paths are given in walk order (a folder's files before its subfolders); each level lists its
entries in the order they first appear. Names are shown as ``judge.evidence.shown_name`` made them:
one printable line each.
"""

from __future__ import annotations

from collections.abc import Iterable

BRANCH, LAST, PIPE, SPACE = "├── ", "└── ", "│   ", "    "
_Tree = dict[str, "_Tree"]


def render_tree(paths: Iterable[str]) -> str:
    root: _Tree = {}
    for path in paths:
        node = root
        for part in path.split("/"):
            node = node.setdefault(part, {})
    lines: list[str] = []
    stack: list[tuple[_Tree, str, int]] = [(root, "", 0)]
    while stack:
        node, prefix, i = stack.pop()
        items = list(node.items())
        if i >= len(items):
            continue
        name, sub = items[i]
        last = i == len(items) - 1
        lines.append(f"{prefix}{LAST if last else BRANCH}{name}")
        stack.append((node, prefix, i + 1))
        if sub:
            stack.append((sub, prefix + (SPACE if last else PIPE), 0))
    return "\n".join(lines)


def tree_paths(text: str) -> list[str]:
    """The file paths of a tree drawn by ``render_tree`` (folders are the entries with children)."""
    entries: list[tuple[int, str]] = []
    for line in text.split("\n"):
        depth = 0
        while line[4 * depth : 4 * depth + 4] in (PIPE, SPACE):
            depth += 1
        rest = line[4 * depth :]
        if rest.startswith((BRANCH, LAST)):
            entries.append((depth, rest[4:]))
    out: list[str] = []
    stack: list[str] = []
    for i, (depth, name) in enumerate(entries):
        del stack[depth:]
        stack.append(name)
        has_children = i + 1 < len(entries) and entries[i + 1][0] > depth
        if not has_children:
            out.append("/".join(stack))
    return out
