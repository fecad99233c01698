"""The shape of the code base stays as DESIGN.md draws it.

- Imports point one way: ``runner`` knows nothing of ``judge`` or ``bot``; ``judge`` nothing of ``bot``.
- No import cycle between modules, counting every import: module level and inside functions (an
  import deferred into a function still closes a circle when that function runs); only
  ``if TYPE_CHECKING:`` blocks are excluded (they never run).
- No module over 400 lines, except the few listed below with the reason they are still long.
- ``reprobot --help`` lists every command from ``COMMAND_TABLE`` without importing them: the table
  must name every command the modules define, with the same one-line help.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("judge", "runner", "bot")
MAX_LINES = 400
LONG_MODULES: dict[str, str] = {
    # module: why it is still over MAX_LINES
}


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _all_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import the module can run: at module level, in functions, classes, branches and
    handlers; not under ``if TYPE_CHECKING`` (its ``else`` branch does run)."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
            continue
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    is_pkg = path.name == "__init__.py"
    for node in _all_imports(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_pkg else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from pkg import submodule`` depends on the submodule; ``from mod import name`` on mod
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def test_layers_point_one_way() -> None:
    wrong = []
    for module, deps in _graph().items():
        layer = module.split(".")[0]
        for dep in deps:
            dep_layer = dep.split(".")[0]
            if (layer == "runner" and dep_layer in ("judge", "bot")) or (
                layer == "judge" and dep_layer == "bot"
            ):
                wrong.append(f"{module} imports {dep}")
    assert not wrong, "\n".join(sorted(wrong))


def test_no_import_cycles() -> None:
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_no_module_over_the_line_limit() -> None:
    too_long = {}
    for name, path in _modules().items():
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > MAX_LINES and name not in LONG_MODULES:
            too_long[name] = n
    assert not too_long, f"modules over {MAX_LINES} lines: {too_long}"


def test_listed_long_modules_are_still_long() -> None:
    modules = _modules()
    stale = [
        m for m in LONG_MODULES if m not in modules or len(modules[m].read_text().splitlines()) <= MAX_LINES
    ]
    assert not stale, f"no longer long (remove from LONG_MODULES): {stale}"


@pytest.mark.parametrize("module", sorted({m for m, _ in __import__("bot.cli").cli.COMMAND_TABLE.values()}))
def test_command_table_names_every_command_of_its_modules(module: str) -> None:
    from bot.cli import COMMAND_TABLE

    mod = importlib.import_module(f"bot.cli.{module}")
    defined = {c.name: c.get_short_help_str(limit=300) for c in mod.COMMANDS}
    listed = {name: short for name, (m, short) in COMMAND_TABLE.items() if m == module}
    assert listed == defined


def test_every_command_module_is_in_the_table() -> None:
    from bot.cli import COMMAND_MODULES

    on_disk = {
        p.stem
        for p in (ROOT / "bot" / "cli").glob("*.py")
        if "COMMANDS" in p.read_text(encoding="utf-8") and p.stem not in ("__init__", "common")
    }
    assert on_disk <= set(COMMAND_MODULES), (
        f"command modules missing from COMMAND_TABLE: {on_disk - set(COMMAND_MODULES)}"
    )
