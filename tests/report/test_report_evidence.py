"""Every verdict shows its evidence or says it has none: citations are read loosely at the edge
(wrong entries dropped, paths outside the submission refused), a quote the judge did not mark is
checked against the executed submission (whitespace-insensitive, never through a symlink), quotes
not found are flagged in the HTML report, the comment and the annotations; the comment names the
protocol and warns as loudly for a grade made without the paper as for the dummy judge."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from evidence_fixtures import worked_example_result

from bot.report import load_context, render_check_output, render_pr_comment, write_html_report
from bot.report.annotations import citation_annotations
from bot.report.leaf_evidence import evidence_of, safe_relpath
from judge.graded import GradedNode
from judge.summary import NO_PAPER_CAVEAT


def _leaf(citations: Any) -> GradedNode:
    return GradedNode("l", "req", 1.0, (), "Code Development", None, 0.0, True, "e", {"citations": citations})


def test_loose_reading_drops_what_is_not_a_citation() -> None:
    ev = evidence_of(_leaf([
        {"file": "a.py", "lines": [3, 5], "quote": "x = 1", "found": True},
        {"file": "/etc/passwd", "lines": [1, 1], "quote": "root"},
        {"file": "../up.py", "quote": "x"},
        {"file": "b.py", "lines": [9, 2], "quote": 7, "found": "yes"},
        "not a mapping",
        {"lines": [1, 2]},
    ]))  # fmt: skip
    assert [(c.file, c.start, c.end, c.quote, c.found) for c in ev.citations] == [
        ("a.py", 3, 5, "x = 1", True),
        ("b.py", 9, 9, "", None),
    ]
    assert evidence_of(_leaf("nonsense")).none and evidence_of(_leaf([])).none
    assert safe_relpath("./submission/src/x.py") == "src/x.py" and safe_relpath("a\nb") is None


def test_unmarked_quotes_are_checked_against_the_submission(tmp_path: Path) -> None:
    sub = tmp_path / "submission"
    sub.mkdir()
    (sub / "train.py").write_text("def train(lr=0.1):\n    return   lr * 2\n")
    (tmp_path / "secret.txt").write_text("TOP SECRET")
    os.symlink(tmp_path / "secret.txt", sub / "link.py")
    (tmp_path / "reproduce.log").write_text("accuracy 0.97\n")
    ev = evidence_of(
        _leaf([
            {"file": "train.py", "lines": [1, 2], "quote": "def train(lr=0.1):\n return lr * 2"},
            {"file": "train.py", "lines": [1, 1], "quote": "def train(lr=0.5)"},
            {"file": "link.py", "lines": [1, 1], "quote": "TOP SECRET"},
            {"file": "missing.py", "lines": [1, 1], "quote": "x"},
            {"file": "reproduce.log", "lines": None, "quote": "accuracy 0.97"},
        ]),
        tmp_path,
    )  # fmt: skip
    assert [c.found for c in ev.citations] == [True, False, None, False, True]  # missing.py: never there
    assert ev.not_found == 2


def test_not_found_is_flagged_everywhere(tmp_path: Path) -> None:
    folder = worked_example_result(tmp_path / "r", "weak")
    ctx = load_context(folder)
    html = write_html_report(folder).read_text()
    assert html.count("quote not found in the submission") == 1
    assert html.count('class="no-evidence"') + html.count('class="evidence-block"') == ctx.summary.leaves
    comment = render_pr_comment(folder)
    assert "**(quote not found in the submission)**" in comment and "no evidence cited" in comment
    warnings = [a for a in citation_annotations(ctx) if a.annotation_level == "warning"]
    assert [(a.path, a.start_line) for a in warnings] == [("models.py", 3)]
    assert "NOT found" in warnings[0].message


def test_comment_names_protocol_and_warns_for_a_missing_paper(tmp_path: Path) -> None:
    folder = worked_example_result(tmp_path / "r", "good")
    summary = json.loads((folder / "judge_summary.json").read_text())
    assert "paperbench protocol" in render_pr_comment(folder)
    caveats = [*summary.get("caveats", []), NO_PAPER_CAVEAT]
    (folder / "judge_summary.json").write_text(json.dumps({**summary, "caveats": caveats}))
    comment = render_pr_comment(folder)
    plain = comment.replace("\\", "")  # Markdown escapes aside
    assert f"> [!CAUTION]\n> **{NO_PAPER_CAVEAT}.**" in plain  # as loud as the dummy judge's
    assert f"⚠️ CAVEAT: {NO_PAPER_CAVEAT}" in plain.splitlines()[1]
    assert NO_PAPER_CAVEAT in render_check_output(folder).title
    html = write_html_report(folder).read_text()
    assert 'id="caveat-banner"' in html and "graded WITHOUT the paper" in html
