"""Invariant: graded trees are read as real data is (valid_score 1.0/0/null, judge_metadata "" or
[], numeric strings, "Subtree" leaves), normalised once and written clean; `reprobot score` and
`reprobot judge-eval` accept the shared gold trees and loose variants of them; a leaf that could not
be graded costs that leaf only in JudgeEval; leaves on one side only are reported, not fatal."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bot.cli import main
from judge.graded import LeafGrade, dump_graded, grade_tree, load_graded, parse_graded
from judge.judge_eval import judge_eval
from judge.rubric import parse_rubric

ROOT = Path(__file__).resolve().parents[2]
GOLD = sorted((ROOT.parent / "shared" / "paperbench" / "judge_eval").glob("*/expected_result.json"))
pytestmark = pytest.mark.skipif(not GOLD, reason="../shared/paperbench/judge_eval not present")
ENV = {"REPROBOT_CONFIG": ""}


def loosen(node: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """The same tree with the loose typing real gold trees show."""
    out = dict(node)
    out["valid_score"] = rng.choice([1.0, 1, None, True, "true"]) if node["valid_score"] else 0
    out["judge_metadata"] = rng.choice(["", [], None, {}])
    out["weight"] = rng.choice([node["weight"], str(node["weight"])])
    if not node["sub_tasks"]:
        out["score"] = rng.choice([node["score"], str(node["score"])])
    out["sub_tasks"] = [loosen(c, rng) for c in node["sub_tasks"]]
    return out


@pytest.mark.parametrize("path", GOLD, ids=lambda p: p.parent.name)
def test_loose_variants_of_gold_trees_load_and_score_the_same(path: Path, tmp_path: Path) -> None:
    raw = json.loads(path.read_text())
    loose = loosen(raw, random.Random(7))
    loose_path = tmp_path / "loose.json"
    loose_path.write_text(json.dumps(loose))
    strict, lax = load_graded(path), load_graded(loose_path)
    assert [(n.id, n.score, n.valid_score) for n in strict.leaves()] == [
        (n.id, n.score, n.valid_score) for n in lax.leaves()
    ]
    runner = CliRunner()
    a = runner.invoke(main, ["score", str(path)], env=ENV)
    b = runner.invoke(main, ["score", str(loose_path), "--write", str(tmp_path / "clean.json")], env=ENV)
    assert a.exit_code == 0 and b.exit_code == 0, b.output
    assert a.output.splitlines()[-1] == b.output.splitlines()[-1]
    clean = json.loads((tmp_path / "clean.json").read_text())
    leaf = clean
    while leaf["sub_tasks"]:
        leaf = leaf["sub_tasks"][0]
    assert isinstance(leaf["valid_score"], bool) and isinstance(leaf["score"], float)
    assert leaf["judge_metadata"] is None  # "" / [] written as null
    ev = runner.invoke(main, ["judge-eval", str(loose_path), str(path), "--json"], env=ENV)
    assert ev.exit_code == 0, ev.output
    assert json.loads(ev.output)["overall"]["accuracy"] == 1.0


def test_subtree_leaves_of_max_depth_grading_are_read() -> None:
    tree = {
        "id": "r", "requirements": "r", "weight": 1, "score": 0.0, "valid_score": True,
        "sub_tasks": [
            {"id": "s", "requirements": "s", "weight": 1, "task_category": "Subtree", "score": 0.4,
             "valid_score": True, "sub_tasks": [{"id": "x", "requirements": "x", "weight": 1,
                                                 "sub_tasks": [], "task_category": "Code Development"}]},
            {"id": "l", "requirements": "l", "weight": 1, "task_category": "Code Development",
             "score": "1", "valid_score": 1.0, "sub_tasks": [], "judge_metadata": ""},
        ],
    }  # fmt: skip
    root = parse_graded(tree)
    assert [(n.id, n.task_category, n.score) for n in root.leaves()] == [
        ("s", "Subtree", 0.4),
        ("l", "Code Development", 1.0),
    ]


def test_malformed_values_are_still_refused() -> None:
    bad = {"id": "r", "requirements": "r", "weight": "heavy", "sub_tasks": [],
           "task_category": "Code Development", "score": 1}  # fmt: skip
    with pytest.raises(Exception, match="weight"):
        parse_graded(bad)


@pytest.mark.parametrize("path", GOLD, ids=lambda p: p.parent.name)
def test_one_failed_leaf_costs_that_leaf_only(path: Path, tmp_path: Path) -> None:
    gold = load_graded(path)
    rubric = parse_rubric(json.loads(path.read_text()))
    victim = next(gold.leaves()).id
    gold_by_id = {n.id: n for n in gold.leaves()}

    def grade(leaf: Any) -> LeafGrade:
        if leaf.id == victim:
            return LeafGrade.invalid("Could not grade: judge call failed: server error 500")
        return LeafGrade(gold_by_id[leaf.id].score, True, "agrees with gold")

    pred = grade_tree(rubric, grade)
    assert all(n.valid_score for n in pred.walk() if not n.is_leaf)
    dump_graded(pred, tmp_path / "grade.json")
    result = judge_eval(load_graded(tmp_path / "grade.json"), gold)
    n = sum(1 for _ in gold.leaves())
    assert result.overall.num_samples == n - 1 and result.num_skipped == 1
    assert result.overall.accuracy == 1.0


def test_judge_eval_run_with_one_permanently_failing_call_evaluates_every_other_leaf(tmp_path: Path) -> None:
    """End to end: the gold tree is the rubric, one leaf's calls always fail (500), the rest agree."""
    from tests.judge.fixtures import make_executed
    from tests.standins.openai_server import Fault, OpenAIStandIn

    gold_path = GOLD[-1]
    gold = load_graded(gold_path)
    paper_dir = tmp_path / "paper"
    paper_dir.mkdir()
    (paper_dir / "rubric.json").write_text(gold_path.read_text())
    (paper_dir / "paper.md").write_text("# The paper\nIt reports results.\n")
    config = tmp_path / "reprobot.yaml"
    config.write_text(
        "judge:\n  max_retries: 1\n  backoff_base_s: 0.01\n  backoff_max_s: 0.05\n  concurrency: 8\n"
        f"data_dir: {tmp_path / 'data'}\n"
    )
    victim = next(gold.leaves()).id
    truth = {n.id: int(n.score >= 0.5) for n in gold.leaves()}
    executed = make_executed(tmp_path)
    with OpenAIStandIn(verdict=lambda i: truth.get(i, 0)) as srv:
        srv.leaf_faults[victim] = [Fault("server_error") for _ in range(10)]
        result = CliRunner().invoke(
            main,
            ["--config", str(config), "judge-eval-run", str(executed), "--paper", str(paper_dir),
             "--gold", str(gold_path), "--out", str(tmp_path / "ev"), "--base-url", srv.base_url,
             "--protocols", "reprobot", "--leaves-per-call", "1", "--json"],
            env={"GRADER_OPENAI_API_KEY": "sk-test", "REPROBOT_CONFIG": ""},
        )  # fmt: skip
    assert result.exit_code == 3, result.output  # one leaf has no verdict: the endpoint failed (infra)
    ev = json.loads(result.stdout)["judge_eval"]
    n = sum(1 for _ in gold.leaves())
    assert ev["overall"]["num_samples"] == n - 1 and ev["num_skipped"] == 1
    assert ev["overall"]["accuracy"] == 1.0
    judged = json.loads((tmp_path / "ev" / "grade.json").read_text())
    assert judged["valid_score"] is True  # the root stays valid: the failure is that leaf's alone
    ev2 = CliRunner().invoke(
        main, ["judge-eval", str(tmp_path / "ev" / "grade.json"), str(gold_path), "--json"]
    )
    assert json.loads(ev2.stdout)["overall"]["num_samples"] == n - 1
