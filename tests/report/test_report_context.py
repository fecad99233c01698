"""A result folder is read once, tolerantly: grade.json is required (one-line error otherwise), any
other file may be missing or broken and the comment says so; a dummy judge is stated loudly; the
score is recomputed from the leaves; history, top failures and reproduction facts are shown."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from report_fixtures import JUDGE_SUMMARY, METADATA, synthetic_tree

from bot.cli import main
from bot.report import HistoryEntry, ReportError, load_context, render_check_output, render_pr_comment
from judge.summary import DUMMY_CAVEAT, NO_PAPER_CAVEAT

TREE = synthetic_tree(sections=2, subsections=2, leaves=4)


def test_everything_present(result_dir: Any) -> None:
    folder = result_dir(TREE)
    ctx = load_context(folder)
    assert ctx.missing == () and ctx.problems == ()
    c = render_pr_comment(folder)
    lines = c.splitlines()
    assert f"{100 * ctx.summary.score:.1f}%" in lines[1] and "coverage" in lines[1]
    for needle in (
        "1h 02m 03s",
        "NVIDIA H100",
        "o3-mini",
        "$3.21",
        "Code Development",
        "train.py",
        "Top failing requirements",
        "Log truncated",
        "<details open>",
    ):
        assert needle in c, needle
    assert "DUMMY" not in c


def test_missing_files_are_named(result_dir: Any) -> None:
    folder = result_dir(TREE, summary=None, metadata=None, submission=None, blacklist=None)
    ctx = load_context(folder)
    assert set(ctx.missing) == {"judge_summary.json", "metadata.json", "submission.json", "blacklist.json"}
    c = render_pr_comment(folder)
    for name in ctx.missing:
        assert f"Missing `{name}`" in c
    assert "inferred" in c  # mode unknown


def test_broken_optional_file_is_a_problem_not_a_crash(result_dir: Any) -> None:
    folder = result_dir(TREE)
    (folder / "metadata.json").write_text("{not json", encoding="utf-8")
    (folder / "blacklist.json").write_text("[1, 2]", encoding="utf-8")
    ctx = load_context(folder)
    assert ctx.run is None and ctx.blacklist is None
    assert any("metadata.json" in p for p in ctx.problems)
    assert "metadata.json is unreadable" in render_pr_comment(folder)


@pytest.mark.parametrize(
    "extra,needle",
    [
        ({"dummy": True}, "dummy judge"),  # a summary written before caveats still loads as one
        ({"caveats": [DUMMY_CAVEAT]}, "dummy judge"),
        ({"caveats": [NO_PAPER_CAVEAT]}, "WITHOUT the paper"),
    ],
)
def test_caveats_are_loud(result_dir: Any, extra: dict[str, Any], needle: str) -> None:
    folder = result_dir(TREE, summary=dict(JUDGE_SUMMARY, **extra))
    c = render_pr_comment(folder)
    assert "CAVEAT" in c.splitlines()[1] and needle in c.splitlines()[1]
    assert "[!CAUTION]" in c and "Do not compare" in c
    title = render_check_output(folder).title
    # Issue 22: the title starts with the score (GitHub's check list cuts long titles); the caveat
    # follows it, still in the title.
    assert re.match(r"\d+\.\d% · \d+/\d+ leaves · ", title), title
    assert "CAVEAT" in title and needle in title


def test_score_is_recomputed_not_trusted(result_dir: Any) -> None:
    folder = result_dir(TREE, summary=dict(JUDGE_SUMMARY, score=0.99))
    ctx = load_context(folder)
    assert ctx.summary.score != 0.99
    assert "99.0%" not in render_pr_comment(folder).splitlines()[1]


def test_history_delta(result_dir: Any) -> None:
    folder = result_dir(TREE)
    score = load_context(folder).summary.score
    c = render_pr_comment(folder, history=[HistoryEntry("abcdef0123", score - 0.1, 1.0, "t")])
    assert "▲ +10.0 pts" in c and "`abcdef0`" in c


def test_top_failing_ordered_by_weight_lost(result_dir: Any) -> None:
    ctx = load_context(result_dir(TREE))
    lost = [f.lost for f in ctx.failing]
    assert lost == sorted(lost, reverse=True) and lost[0] > 0
    assert all(f.verdict == "fail" for f in ctx.failing)


def test_infra_error_and_code_dev(result_dir: Any) -> None:
    meta = dict(METADATA, status="infra_error", error="docker daemon went away", exit_code=None)
    folder = result_dir(TREE, metadata=meta, summary=dict(JUDGE_SUMMARY, mode="code-dev"))
    c = render_pr_comment(folder)
    assert "infrastructure" in c and "docker daemon went away" in c
    assert "Code-Dev" in c.splitlines()[1]


def test_no_grade_json(tmp_path: Path) -> None:
    with pytest.raises(ReportError):
        load_context(tmp_path)
    result = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert result.exit_code == 1 and "no grade.json" in result.output


def test_cli_report_writes_html_and_prints_comment(result_dir: Any) -> None:
    folder = result_dir(TREE)
    runner = CliRunner()
    r = runner.invoke(main, ["report", str(folder)])
    assert r.exit_code == 0 and (folder / "report.html").is_file()
    r = runner.invoke(main, ["report", str(folder), "--comment"])
    assert r.exit_code == 0 and r.output.startswith("<!-- reprobot:score-comment -->")
    r = runner.invoke(main, ["report", str(folder), "--check"])
    assert r.exit_code == 0 and '"title"' in r.output
