"""The judge command line: `reprobot judge` grades (dummy or a real endpoint), `--estimate` sends
nothing, a missing key is one clear line before any work, and `reprobot judge-eval-run` grades
then reports F1 against a gold tree, also as a 1-vs-grouped comparison in one command."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from bot.cli import main
from judge.graded import LeafGrade, grade_tree
from judge.papers import Paper
from judge.summary import DUMMY_CAVEAT
from tests.standins.openai_server import OpenAIStandIn

NO_KEY = {"GRADER_OPENAI_API_KEY": "", "OPENAI_API_KEY": "", "REPROBOT_CONFIG": ""}
KEY = {"GRADER_OPENAI_API_KEY": "sk-test", "OPENAI_API_KEY": "", "REPROBOT_CONFIG": ""}


def test_judge_dummy_writes_the_three_files(executed: Path, paper: Paper, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = [
        "judge",
        str(executed),
        "--paper",
        str(paper.folder),
        "--out",
        str(out),
        "--dummy",
        "--cache",
        str(tmp_path / "c.sqlite"),
    ]
    result = CliRunner().invoke(main, args, env=NO_KEY)
    assert result.exit_code == 0, result.output
    assert "CAVEAT: dummy judge" in result.output
    float(result.output.strip().splitlines()[-1])
    summary = json.loads((out / "judge_summary.json").read_text())
    assert summary["caveats"] == [DUMMY_CAVEAT] and "dummy" not in summary
    assert (out / "grade.json").is_file() and (out / "judge_calls.jsonl").is_file()


def test_missing_key_fails_before_work(executed: Path, paper: Paper, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["judge", str(executed), "--paper", str(paper.folder), "--out", str(out)], env=NO_KEY
    )
    assert result.exit_code == 1
    assert "GRADER_OPENAI_API_KEY" in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_estimate_sends_nothing(executed: Path, paper: Paper, tmp_path: Path) -> None:
    """A custom endpoint is unpriced unless the organizer gives prices (never OpenAI's by name)."""
    config = tmp_path / "priced.yaml"
    config.write_text("judge:\n  prices:\n    o3-mini: {input: 1.1, cached_input: 0.55, output: 4.4}\n")
    with OpenAIStandIn() as srv:
        results = []
        for prefix in ([], ["--config", str(config)]):
            args = [
                *prefix,
                "judge",
                str(executed),
                "--paper",
                str(paper.folder),
                "--out",
                str(tmp_path / "o"),
                "--estimate",
                "--json",
                "--base-url",
                srv.base_url,
                "--cache",
                str(tmp_path / "c.sqlite"),
            ]
            results.append(CliRunner().invoke(main, args, env=NO_KEY))
        assert srv.calls == 0
    unpriced, priced = results
    assert unpriced.exit_code == 0 and priced.exit_code == 0, unpriced.output + priced.output
    data = json.loads(priced.stdout)
    # the paperbench protocol (the default): rank, grade and parse for each of the 4 leaves
    assert data["calls"] == 12 and data["input_tokens"] > 0 and data["cost_usd"] > 0
    assert json.loads(unpriced.stdout)["cost_usd"] is None


def test_judge_against_endpoint_then_from_cache(executed: Path, paper: Paper, tmp_path: Path) -> None:
    with OpenAIStandIn() as srv:
        base = [
            "judge",
            str(executed),
            "--paper",
            str(paper.folder),
            "--base-url",
            srv.base_url,
            "--model",
            "gpt-4o-mini",
            "--cache",
            str(tmp_path / "c.sqlite"),
            "--concurrency",
            "2",
        ]
        first = CliRunner().invoke(main, [*base, "--out", str(tmp_path / "a")], env=KEY)
        assert first.exit_code == 0, first.output
        second = CliRunner().invoke(main, [*base, "--out", str(tmp_path / "b")], env=KEY)
        assert second.exit_code == 0, second.output
        assert srv.calls == 12 and srv.validation_errors == []  # three calls a leaf, once
    assert "calls 0 (leaves from cache 4)" in second.output


def test_judge_eval_run_grades_the_gold_tree_with_both_protocols(
    executed: Path, paper: Paper, tmp_path: Path
) -> None:
    """The gold tree is the rubric: a gold leaf the paper's rubric lacks is graded too."""
    gold_raw = grade_tree(
        paper.rubric, lambda leaf: LeafGrade(0.0 if leaf.id == "impl-batch" else 1.0, True, "")
    ).to_dict()
    extra = dict(gold_raw["sub_tasks"][0]["sub_tasks"][0], id="gold-only", score=1.0, judge_metadata="")
    gold_raw["sub_tasks"][0]["sub_tasks"].append(extra)
    gold_raw["sub_tasks"][0]["valid_score"] = 1.0  # loosely typed, as real gold trees are
    gold = tmp_path / "gold.json"
    gold.write_text(json.dumps(gold_raw))
    with OpenAIStandIn(verdict=lambda i: 1) as srv:
        args = [
            "judge-eval-run", str(executed), "--paper", str(paper.folder), "--gold", str(gold),
            "--out", str(tmp_path / "ev"), "--base-url", srv.base_url,
            "--protocols", "paperbench,reprobot", "--cache", str(tmp_path / "c.sqlite"),
        ]  # fmt: skip
        result = CliRunner().invoke(main, [*args, "--json"], env=KEY)
        text = CliRunner().invoke(main, args, env=KEY)
        assert srv.validation_errors == []
    assert result.exit_code == 0, result.output
    runs = json.loads(result.stdout)
    assert [r["protocol"] for r in runs] == ["paperbench", "reprobot"]
    for run in runs:
        ev = run["judge_eval"]
        assert ev["overall"]["num_samples"] == 5 and ev["missing_in_gold"] == []
        assert ev["overall"]["accuracy"] == 0.8  # the stand-in passes everything; gold fails one
        assert set(ev["by_category"]) == {"Code Development", "Code Execution", "Result Analysis"}
    assert runs[0]["calls"] == 15 and runs[1]["calls"] < runs[0]["calls"]
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    assert any(x.startswith("paperbench") and "F1" in x and "$" in x for x in lines)
    assert any(x.startswith("reprobot") and "F1" in x for x in lines)
