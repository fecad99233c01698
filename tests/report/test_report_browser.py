"""The HTML report works in a real headless browser (Debian's chromium), offline: the URL fragment
state (expand a node, filter by verdict / category, search) is applied by the report's own script,
and the DOM chromium dumps after the script ran shows exactly the expected leaves."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from report_fixtures import synthetic_tree

from bot.report import load_context, write_html_report
from tests.needs import CHROMIUM_REASON, chromium_path

CHROMIUM = chromium_path()
pytestmark = [pytest.mark.browser, pytest.mark.skipif(CHROMIUM is None, reason=CHROMIUM_REASON)]


@dataclass
class Node:
    attrs: dict[str, str]
    parent: Node | None
    text: list[str] = field(default_factory=list)

    @property
    def hidden(self) -> bool:
        return "hidden" in self.attrs

    @property
    def open(self) -> bool:
        return "open" in self.attrs


class DomDetails(HTMLParser):
    """Every <details> of the dumped DOM with its attributes, parent and text."""

    def __init__(self) -> None:
        super().__init__()
        self.nodes: list[Node] = []
        self.stack: list[Node] = []
        self.status: dict[str, str] = {}
        self.scripts = 0
        self.imgs = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "details" and "node" not in a.get("class", "").split() and self.stack:
            self.stack.append(self.stack[-1])  # a leaf's folded audit details: text of the leaf
        elif tag == "details":
            node = Node(a, self.stack[-1] if self.stack else None)
            self.nodes.append(node)
            self.stack.append(node)
        elif tag == "span" and a.get("id") == "status":
            self.status = a
        elif tag == "script":
            self.scripts += 1
        elif tag == "img":
            self.imgs += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "details" and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self.stack:
            self.stack[-1].text.append(data)

    def leaves(self) -> list[Node]:
        return [n for n in self.nodes if "leaf" in n.attrs.get("class", "").split()]

    def by_id(self, node_id: str) -> Node:
        return next(n for n in self.nodes if n.attrs.get("data-id") == node_id)


def dump(report: Path, fragment: str, tmp_path: Path) -> DomDetails:
    assert CHROMIUM is not None
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--dump-dom",
        report.resolve().as_uri() + fragment,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'data-ready="1"' in proc.stdout, "the report's script did not run"
    parser = DomDetails()
    parser.feed(proc.stdout)
    return parser


@pytest.fixture
def report(result_dir: Any) -> tuple[Path, Any]:
    tree = synthetic_tree(sections=3, subsections=2, leaves=4)
    leaf = tree["sub_tasks"][1]["sub_tasks"][0]["sub_tasks"][2]
    leaf["explanation"] = "HOSTILE </details><script>document.title='pwned'</script><img src=x>"
    leaf["judge_metadata"] = {"files": ["src/cited_file.py", "logs/run.txt"], "evidence": ["line 42"]}
    folder = result_dir(tree)
    return write_html_report(folder), load_context(folder)


def test_filter_by_verdict_and_expand(report: tuple[Path, Any], tmp_path: Path) -> None:
    path, ctx = report
    target = ctx.root.sub_tasks[1].sub_tasks[0].sub_tasks[2]
    dom = dump(path, f"#verdict=fail&expand={target.id}", tmp_path)
    fails = {leaf.node.id for leaf in ctx.leaves if leaf.verdict == "fail"}
    shown = {n.attrs["data-id"] for n in dom.leaves() if not n.hidden}
    assert shown == fails | {target.id} or shown == fails
    assert dom.status["data-shown"] == str(len(fails))
    # The expanded leaf and all its ancestors are open; its explanation and evidence are in it.
    node = dom.by_id(target.id)
    assert node.open and "target" in node.attrs["class"]
    anc = node.parent
    while anc is not None:
        assert anc.open
        anc = anc.parent
    text = "".join(node.text)
    assert "HOSTILE </details><script>" in text  # shown as text
    assert "src/cited_file.py" in text and "line 42" in text
    assert dom.scripts == 1 and dom.imgs == 0


def test_filter_by_category_and_search(report: tuple[Path, Any], tmp_path: Path) -> None:
    path, ctx = report
    dom = dump(path, "#category=result-analysis&q=component%201.0.", tmp_path)
    expected = {
        leaf.node.id
        for leaf in ctx.leaves
        if leaf.node.task_category == "Result Analysis" and "component 1.0." in leaf.node.requirements
    }
    assert expected
    shown = {n.attrs["data-id"] for n in dom.leaves() if not n.hidden}
    assert shown == expected
    # Internal nodes without a visible leaf are hidden; those with one are open.
    for n in dom.nodes:
        if "leaf" in n.attrs["class"]:
            continue
        has_visible = any((not leaf.hidden) and _is_below(leaf, n) for leaf in dom.leaves())
        assert n.hidden != has_visible
        if has_visible:
            assert n.open


def test_default_view_and_expand_all(report: tuple[Path, Any], tmp_path: Path) -> None:
    path, ctx = report
    dom = dump(path, "", tmp_path)
    assert dom.status["data-shown"] == str(ctx.summary.leaves)
    assert not any(n.hidden for n in dom.nodes)
    assert [n.open for n in dom.nodes if n.parent is None] == [True]
    # Issue 22: the report leads with what matters, so the root's sections that lost points open;
    # fully passing sections and everything deeper stay folded.
    for n in dom.nodes:
        if n.parent is not None and n.parent.parent is None:
            assert n.open == (n.attrs["data-verdict"] != "pass")
        elif n.parent is not None:
            assert not n.open
    dom = dump(path, "#expand=all", tmp_path)
    assert all(n.open for n in dom.nodes)


def _is_below(node: Node, ancestor: Node) -> bool:
    p = node.parent
    while p is not None:
        if p is ancestor:
            return True
        p = p.parent
    return False
