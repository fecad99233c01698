"""The judge command line: `reprobot judge` grades (dummy or a real endpoint), `--estimate` sends
nothing, a missing key is one clear line before any work, and `reprobot judge-eval-run` grades
then reports F1 against a gold tree, also as a 1-vs-grouped comparison in one command."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from bot.cli import main
from judge.graded import LeafGrade, dump_graded, grade_tree
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
    with OpenAIStandIn() as srv:
        result = CliRunner().invoke(
            main,
            [
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
            ],
            env=NO_KEY,
        )
        assert srv.calls == 0
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["calls"] == 4 and data["input_tokens"] > 0 and data["cost_usd"] > 0


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
        assert srv.calls == 4 and srv.validation_errors == []
    assert "calls 0 (leaves from cache 4)" in second.output


def test_judge_eval_run_compares_grouped(executed: Path, paper: Paper, tmp_path: Path) -> None:
    gold = tmp_path / "gold.json"
    dump_graded(
        grade_tree(paper.rubric, lambda leaf: LeafGrade(0.0 if leaf.id == "impl-batch" else 1.0, True, "")),
        gold,
    )
    with OpenAIStandIn(verdict=lambda i: 1) as srv:
        result = CliRunner().invoke(
            main,
            [
                "judge-eval-run",
                str(executed),
                "--paper",
                str(paper.folder),
                "--gold",
                str(gold),
                "--out",
                str(tmp_path / "ev"),
                "--base-url",
                srv.base_url,
                "--compare-grouped",
                "4",
                "--json",
                "--cache",
                str(tmp_path / "c.sqlite"),
            ],
            env={**KEY, "REPROBOT_CONFIG": ""},
        )
        assert srv.validation_errors == []
    assert result.exit_code == 0, result.output
    runs = json.loads(result.stdout)
    assert [r["leaves_per_call"] for r in runs] == [1, 4]
    assert runs[0]["judge_eval"]["overall"]["accuracy"] == 0.75
    assert runs[1]["calls"] < runs[0]["calls"]
