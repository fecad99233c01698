"""Reports never fail on foreign trees: every field of a graded tree (and of the optional files
beside it) is bounded at the load edge before any work, so ``reprobot report`` (HTML, ``--comment``,
``--check``) renders a hostile tree with exit 0: a citation with a 5,000-character file name, a 10 MB
quote (cut before it is dedented: the work is counted, not timed), 200,000 citations (20 read, the
rest counted), lone surrogates anywhere, megabytes of id/requirements/explanation, absurd line
numbers. A file that is no graded tree at all (nested past what JSON can read) is one line, exit 1."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.report import leaf_evidence
from bot.report.leaf_evidence import MAX_CITATIONS, QUOTE_CHARS
from bot.report.model import (
    MAX_EXPLANATION_CHARS,
    MAX_ID_CHARS,
    MAX_REQUIREMENTS_CHARS,
    MAX_STRING_CHARS,
    load_context,
)


def _leaf(i: int, **changes: Any) -> dict[str, Any]:
    node = {"id": f"leaf-{i}", "requirements": "the model is trained", "weight": 1, "sub_tasks": [],
            "task_category": "Code Development", "score": 1, "valid_score": True, "explanation": "ok",
            "judge_metadata": {}}  # fmt: skip
    node.update(changes)
    return node


def _folder(tmp_path: Path, name: str, leaves: list[dict[str, Any]], **files: Any) -> Path:
    folder = tmp_path / name
    (folder / "submission").mkdir(parents=True)
    (folder / "submission" / "train.py").write_text("x = 1\n")
    tree = {"id": "root", "requirements": "r", "weight": 1, "sub_tasks": leaves, "score": 0}
    (folder / "grade.json").write_text(json.dumps(tree))
    for file_name, data in files.items():
        (folder / f"{file_name}.json").write_text(json.dumps(data))
    return folder


def _cites(citations: list[dict[str, Any]]) -> dict[str, Any]:
    return {"citations": citations}


LONG_NAME = {"file": "a" * 5000 + ".py", "lines": [1, 2], "quote": "x"}
LONG_PATH = {"file": "/".join(["b" * 200] * 30), "quote": "x"}
BIG_QUOTE = {"file": "train.py", "quote": "    x = 1\n" * 1_000_000}
MANY = [{"file": f"f{i}.py", "quote": "q"} for i in range(200_000)]
BAD_TEXT = [{"file": "a\ud800.py", "quote": "\ud800"}, {"file": "train.py", "quote": "\udc00"}]
ABSURD = [{"file": "train.py", "lines": [10**30, -5], "quote": "x"},
          {"file": "train.py", "lines": ["1", None]}]  # fmt: skip
HOSTILE = {
    "long-file-name": [_leaf(1, judge_metadata=_cites([LONG_NAME]))],
    "long-path": [_leaf(1, judge_metadata=_cites([LONG_PATH]))],
    "ten-mb-quote": [_leaf(1, judge_metadata=_cites([BIG_QUOTE]))],
    "many-citations": [_leaf(1, judge_metadata=_cites(MANY))],
    "surrogates": [
        _leaf(1, id="leaf-\ud800", requirements="\udfff", explanation="bad \ud800 text",
              judge_metadata=_cites(BAD_TEXT))
    ],
    "huge-fields": [
        _leaf(1, id="i" * 100_000, requirements="r" * 2_000_000, explanation="e" * 10_000_000,
              finegrained_task_category="c" * 100_000, judge_metadata={"x": ["y" * 1_000_000] * 3})
    ],
    "absurd-lines": [_leaf(1, judge_metadata=_cites(ABSURD))],
}  # fmt: skip
OPTIONAL = {
    "submission": {"submitter": "\ud800" * 10, "repository": "r" * 1_000_000, "pr_number": 2**80},
    "judge_summary": {"model": "\udfff", "caveats": ["\ud800"] * 5000, "tokens": {"\ud800": 1}},
}


@pytest.mark.parametrize("name", list(HOSTILE))
@pytest.mark.parametrize("mode", ["--comment", "--check", "html"])
def test_report_renders_a_hostile_tree(tmp_path: Path, name: str, mode: str) -> None:
    folder = _folder(tmp_path, name, HOSTILE[name], **OPTIONAL)
    args = ["report", str(folder)] + ([] if mode == "html" else [mode])
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, (result.output[-500:], result.exception)
    result.output.encode("utf-8")  # valid Unicode out: no surrogate reaches stdout
    if mode == "html":
        (folder / "report.html").read_text(encoding="utf-8")


def test_every_field_is_bounded_at_the_load_edge(tmp_path: Path) -> None:
    leaves = [*HOSTILE["huge-fields"], _leaf(2, explanation="bad \ud800 text")]
    ctx = load_context(_folder(tmp_path, "huge", leaves, **OPTIONAL))
    for leaf in ctx.leaves:
        node = leaf.node
        assert len(node.id) <= MAX_ID_CHARS and len(node.requirements) <= MAX_REQUIREMENTS_CHARS
        assert len(node.explanation) <= MAX_EXPLANATION_CHARS
        json.dumps(node.to_dict(), ensure_ascii=False).encode("utf-8")
        for value in (node.judge_metadata or {}).get("x", []):
            assert len(value) <= MAX_STRING_CHARS
    assert "\ufffd" in ctx.leaves[1].node.explanation  # the lone surrogate, made valid
    assert ctx.submission is not None and "\ufffd" in (ctx.submission.submitter or "")


def test_a_ten_mb_quote_is_cut_before_it_is_dedented(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    real = textwrap.dedent

    def counting(text: str) -> str:
        seen.append(len(text))
        return real(text)

    monkeypatch.setattr(leaf_evidence.textwrap, "dedent", counting)
    ctx = load_context(_folder(tmp_path, "quote", HOSTILE["ten-mb-quote"]))
    [leaf] = ctx.leaves
    [citation] = leaf.evidence.citations
    assert seen and max(seen) <= QUOTE_CHARS * 4 and len(citation.quote) <= QUOTE_CHARS
    assert citation.quote.startswith("x = 1")


def test_two_hundred_thousand_citations_cost_twenty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[str] = []
    real = leaf_evidence.check_quote
    monkeypatch.setattr(leaf_evidence, "check_quote", lambda d, c: checked.append(c.file) or real(d, c))
    ctx = load_context(_folder(tmp_path, "many", HOSTILE["many-citations"]))
    [leaf] = ctx.leaves
    assert len(leaf.evidence.citations) == MAX_CITATIONS and len(checked) == MAX_CITATIONS
    assert leaf.evidence.more > 0  # the rest are counted (up to the list bound), never parsed


def test_names_no_filesystem_holds_are_not_citations(tmp_path: Path) -> None:
    leaves = [_leaf(1, judge_metadata=_cites([LONG_NAME])), _leaf(2, judge_metadata=_cites([LONG_PATH])),
              _leaf(3, judge_metadata=_cites(ABSURD))]  # fmt: skip
    ctx = load_context(_folder(tmp_path, "names", leaves))
    files = [c.file for leaf in ctx.leaves for c in leaf.evidence.citations]
    assert files == ["train.py", "train.py"]
    assert [(c.start, c.end) for c in ctx.leaves[2].evidence.citations] == [(None, None), (None, None)]


def test_a_file_that_is_no_graded_tree_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "deep"
    folder.mkdir()
    depth = sys.getrecursionlimit() + 100
    (folder / "grade.json").write_text('{"sub_tasks": [' * depth + "]}" * depth)
    result = CliRunner().invoke(main, ["report", str(folder), "--comment"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1
