"""The shape of the code base stays as DESIGN.md draws it.

- Imports point one way: ``runner`` knows nothing of ``judge`` or ``bot``; ``judge`` nothing of ``bot``.
- No import cycle between modules, counting every import: module level and inside functions (an
  import deferred into a function still closes a circle when that function runs); only
  ``if TYPE_CHECKING:`` blocks are excluded (they never run).
- No module over 400 lines, except the few listed below with the reason they are still long.
- Bot's rooms (``BOT_ROOMS``, top to bottom) import only the rooms below them, function-level
  imports included: no import runs back up.
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


# -- bot's rooms, top to bottom ---------------------------------------------------------------------
# A room may import the rooms below it, never one above it (function-level imports count; imports
# under ``if TYPE_CHECKING:`` do not). docs/LAYOUT.md draws the same order.
BOT_ROOMS = (
    "bot.cli",  # the command line
    "bot.server",  # ``reprobot serve``: intake's webhook, /healthz, report's result pages
    "bot.submit",  # ``reprobot submit``
    "bot.forge",  # the local git forge: the GitHub seam over git; its pushes become intake's actions
    "bot.jobs",  # the queue, the job state machine, the worker, a grade job's steps, dispatch
    "bot.pipeline",  # LocalGrader: fetch -> scan -> run -> collect -> judge -> report
    "bot.judge_setup",
    "bot.report",  # comment, check run, HTML report, leaderboard, costs
    "bot.intake",  # webhook, routing, command syntax, action records
    "bot.github",  # the GitHub client seam
    "bot.results",  # the result folder's names and records
    "bot.grading",  # the Grader seam
    "bot.steps",
    "bot.backoff",
    "bot.config_template",
    "bot.settings",
    "bot.config_tools",
    "bot.assets",
    "bot.errors",
    "bot.version",
    "bot",
)


def _every_import(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import a module can run: module level and inside functions, not under TYPE_CHECKING."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
        else:
            stack.extend(ast.iter_child_nodes(node))


def _room(module: str) -> str:
    return max((r for r in BOT_ROOMS if module == r or module.startswith(r + ".")), key=len, default="")


def _imports_back_up(modules: dict[str, Path]) -> list[str]:
    known = set(modules)
    wrong = []
    for name, path in modules.items():
        if not name.startswith("bot"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        is_pkg = path.name == "__init__.py"
        for node in _every_import(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = name.split(".") if is_pkg else name.split(".")[:-1]
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
            for target in targets:
                while target and target not in known:
                    target = target.rpartition(".")[0]
                if not target.startswith("bot") or _room(target) in (_room(name), "bot"):
                    continue
                here, there = _room(name), _room(target)
                if BOT_ROOMS.index(there) < BOT_ROOMS.index(here):
                    wrong.append(f"{name} (room {here}) imports {target} (room {there}, above)")
    return sorted(set(wrong))


def test_every_bot_module_has_a_room() -> None:
    homeless = sorted(m for m in _modules() if m.startswith("bot.") and _room(m) in ("", "bot"))
    assert not homeless, f"add to BOT_ROOMS (and docs/LAYOUT.md): {homeless}"


def test_bot_rooms_import_only_the_rooms_below_them() -> None:
    wrong = _imports_back_up(_modules())
    assert not wrong, "imports that run back up between bot's rooms:\n" + "\n".join(wrong)


def test_an_import_back_up_is_found(tmp_path: Path) -> None:
    """The test above fails on a violation: a function-level import of jobs from the GitHub seam."""
    planted = tmp_path / "planted.py"
    planted.write_text("def f():\n    from bot.jobs.queue import JobQueue\n    return JobQueue\n")
    typed = tmp_path / "typed.py"
    typed.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from bot.cli import main\n")
    modules = {**_modules(), "bot.github.planted": planted, "bot.github.typed": typed}
    assert _imports_back_up(modules) == [
        "bot.github.planted (room bot.github) imports bot.jobs.queue (room bot.jobs, above)"
    ]
