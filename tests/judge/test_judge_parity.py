"""Invariant: ``--protocol paperbench`` shows the model what PaperBench's SimpleJudge shows it, rule by
rule as ../shared/PAPERBENCH.md section 2 states them (each test is named after its rule), on a
PaperBench executed submission judged as an organizer would (``reprobot judge RUN``): the read caps
before any reduction, the log's reduction and its cut, "touched" by mtime, the whole whitelisted
tree within the context left, the first ten answer lines read literally, the preceding criteria with
the pinn cap, the instructions, the parse semantics, the retries, the joined addenda, the Code-Dev
fallback and JudgeEval pooled on raw scores. Requests are recorded by the OpenAI stand-in."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from drain3 import TemplateMiner
from drain3.template_miner_config import TemplateMinerConfig

from bot.cli import main
from judge.config import JudgeSettings
from judge.graded import LeafGrade, grade_tree
from judge.judge_eval import judge_eval_pooled
from judge.logreduce import reduce_log, sanitize
from judge.protocols.common import leaf_refs
from judge.protocols.paperbench import parse_grade
from judge.protocols.paperbench_evidence import fit_window
from judge.protocols.tree import tree_paths
from judge.rubric import CODE_DEVELOPMENT, code_dev_rubric, parse_rubric
from judge.tokens import count_tokens
from tests.judge.paperbench_run import (
    EARLY_RESULT,
    LATE_RESULT,
    RUBRIC,
    TABLE,
    Recorder,
    make_paper,
    make_run,
)
from tests.standins.openai_server import Fault, OpenAIStandIn

KEY = {"GRADER_OPENAI_API_KEY": "sk-parity", "OPENAI_API_KEY": "", "REPROBOT_CONFIG": ""}


def judge(
    tmp: Path,
    run: Path,
    paper_dir: Path,
    *,
    rank: Any = None,
    config: dict[str, Any] | None = None,
    faults: dict[str, list[Fault]] | None = None,
    args: tuple[str, ...] = (),
) -> tuple[Recorder, dict[str, Any]]:
    """``reprobot judge RUN`` against the stand-in; what it sent, and grade.json."""
    rec = Recorder()
    cfg = tmp / f"cfg-{len(list(tmp.glob('cfg-*')))}.yaml"
    cfg.write_text(json.dumps({"data_dir": str(tmp / "data"), "judge": config or {}}))
    out = tmp / f"out-{cfg.stem}"
    kw: dict[str, Any] = {"observe": rec}
    if rank is not None:
        kw["rank"] = rank
    with OpenAIStandIn(**kw) as srv:
        srv.leaf_faults.update(faults or {})
        cmd = ["--config", str(cfg), "judge", str(run), "--paper", str(paper_dir), "--out", str(out)]
        cmd += ["--base-url", srv.base_url, "--cache", str(tmp / f"{cfg.stem}.sqlite"), *args]
        result = CliRunner().invoke(main, cmd, env=KEY)
        assert srv.validation_errors == []
    assert result.exit_code == 0, result.output
    return rec, json.loads((out / "grade.json").read_text())


def leaf_of(tree: dict[str, Any], leaf_id: str) -> dict[str, Any]:
    stack = [tree]
    while stack:
        node = stack.pop()
        if node["id"] == leaf_id:
            return node
        stack += node["sub_tasks"]
    raise KeyError(leaf_id)


@pytest.fixture
def paper(tmp_path: Path) -> Path:
    return make_paper(tmp_path).folder


# ---------------------------------------------------------------------------------- reading the run


def test_rule_read_caps_200000_characters_before_any_reduction(tmp_path: Path, paper: Path) -> None:
    run = make_run(tmp_path)
    (run / "big.py").write_text("x = 1\n" * 40_000 + "# PAST-THE-CAP\n")  # 240,015 characters
    (run / "reproduce.sh").write_text("#!/bin/bash\n" + "# filler\n" * 30_000 + "echo PAST-THE-CAP\n")
    rec, _ = judge(tmp_path, run, paper, rank=lambda paths: ["big.py"])
    ce = rec.text("grade_text", "ce")
    assert EARLY_RESULT in ce and LATE_RESULT not in ce  # the late line is past 200,000 characters
    assert "x = 1" in ce and "PAST-THE-CAP" not in ce  # the ranked file and reproduce.sh: capped


def test_rule_utf8_else_latin1(tmp_path: Path, paper: Path) -> None:
    run = make_run(tmp_path)
    (run / "notes.md").write_bytes(b"caf\xe9 au lait\n")
    rec, _ = judge(tmp_path, run, paper, rank=lambda paths: ["notes.md"])
    assert "café au lait" in rec.text("grade_text", "cd")


# --------------------------------------------------------------------------------- log reduction


def _reference(text: str) -> str:
    """The rule written out with drain3's own TemplateMiner (unbounded), for comparison."""
    miner = TemplateMiner(config=TemplateMinerConfig())
    out: list[str] = []
    previous, repeats = None, 1
    for line in text.splitlines():
        cluster = miner.add_log_message(sanitize(line))["cluster_id"]
        if previous is None:
            out.append(line)
        elif cluster == previous:
            repeats += 1
            continue
        else:
            if repeats > 1:
                out.append(f"  (repeated {repeats} times)")
            out.append(line)
            repeats = 1
        previous = cluster
    if previous is not None and repeats > 1:
        out.append(f"  (repeated {repeats} times)")
    return "\n".join(out)


def test_rule_progress_bars_collapse_into_a_repeated_line() -> None:
    log = (
        "start\n"
        + "".join(f"{p}%|{'█' * (p // 10)}| {p}/100\n" for p in range(50))
        + "12.5MB/s download\ndone\n"
    )
    assert reduce_log(log).text.splitlines() == ["start", "0%|| 0/100", "  (repeated 51 times)", "done"]
    masked = (
        "2025-01-28T18:47:06.1Z step\n2025-02-01T01:02:03.4Z step\n"
        "at 10.0.0.1 id deadbeef01\nat 10.0.0.2 id cafebabe02\n"
    )
    assert reduce_log(masked).text.count("(repeated 2 times)") == 2  # timestamps, IPs, hex ids masked


@pytest.mark.parametrize("seed", range(6))
def test_rule_drain_template_mining_as_drain3_does_it(seed: int) -> None:
    rng = random.Random(seed)
    words = "epoch step loss acc val train INFO saving model to the of lr batch".split()

    def line() -> str:
        k = rng.random()
        if k < 0.3:
            bar = "#" * rng.randint(0, 9)
            return f"Epoch {rng.randint(1, 9)}: {rng.randint(0, 99)}%|{bar}| {rng.randint(0, 99)}/99"
        if k < 0.55:
            return f"step {rng.randint(0, 10**5)} loss {rng.random():.4f} acc {rng.random():.3f}"
        if k < 0.6:
            return ""
        if k < 0.7:
            return f"| {rng.choice(words)} | {rng.random():.3f} | {rng.random():.3f} |"
        return " ".join(
            rng.choice([*words, str(rng.randint(0, 99)), "<*>"]) for _ in range(rng.randint(1, 9))
        )

    lines = [x for _ in range(300) for x in [line()] * (rng.randint(2, 4) if rng.random() < 0.3 else 1)]
    text = "\n".join(lines)
    assert reduce_log(text).text == _reference(text)


def test_rule_log_cut_to_the_head_of_half_the_context_then_log_and_paper_to_fit() -> None:
    log = "\n".join(f"line {i} of a distinct kind number {i * 7}" for i in range(5000))
    paper = "word " * 3000
    w = fit_window(paper, log, 20_000, 10_000)
    assert count_tokens(w.log) <= 10_000 and w.log.startswith("line 0 ") and "line 4999" not in w.log
    assert w.paper == paper  # both fit the window: the paper is whole
    assert w.avail["Code Development"] == 20_000 - count_tokens(paper) - 10_000
    big_paper = "word " * 18_000  # log (10,000) + paper > window: the log leaves the paper 5,000 tokens
    w = fit_window(big_paper, log, 20_000, 10_000)
    assert count_tokens(w.log) == 20_000 - count_tokens(big_paper) - 5_000 or w.log == ""
    huge = "word " * 30_000  # the paper alone is over the window: the log goes, then the paper is cut
    w = fit_window(huge, log, 20_000, 10_000)
    assert w.log == "" and count_tokens(w.paper) <= 15_000


# ----------------------------------------------------------------------------- files and the tree


def test_rule_touched_by_mtime_even_when_the_content_did_not_change(tmp_path: Path, paper: Path) -> None:
    rec, tree = judge(tmp_path, make_run(tmp_path), paper)
    ra_tree = rec.messages("rank", "ra")[-1][1]
    assert "out.csv" in ra_tree and "train.py" not in ra_tree  # docs + the table the run rewrote
    assert leaf_of(tree, "ra")["judge_metadata"]["no_call"] is False
    untouched = make_run(tmp_path, name="untouched")
    import os

    os.utime(untouched / "results" / "out.csv", (1, 1))
    rec, tree = judge(tmp_path, untouched, paper)
    assert leaf_of(tree, "ra")["judge_metadata"]["no_call"] is True  # 0 without a call
    assert not [c for c in rec.calls if "ra" in c[1]]


def test_rule_the_whole_whitelisted_tree_within_the_context_left(tmp_path: Path, paper: Path) -> None:
    run = make_run(tmp_path, many_files=1_500)
    (run / "myvenv").mkdir()
    (run / "myvenv" / "lib.py").write_text("x\n")
    (run / "docs.github").mkdir()
    (run / "docs.github" / "page.md").write_text("x\n")
    (run / "venv_tools.py").write_text("x\n")  # a file name is never checked
    rec, _ = judge(tmp_path, run, paper)
    listed = tree_paths(rec.messages("rank", "cd")[-1][1].split(">>>\n", 1)[1])
    assert len([p for p in listed if p.startswith("src/")]) == 1_500
    assert {"reproduce.sh", "train.py", "README.md", "venv_tools.py"} <= set(listed)
    assert not {"Makefile", "myvenv/lib.py", "docs.github/page.md", "reproduce.log"} & set(listed)
    assert "├── " in rec.messages("rank", "cd")[-1][1]


def test_rule_the_tree_is_limited_in_depth_then_cut_only_over_the_budget(tmp_path: Path, paper: Path) -> None:
    run = make_run(tmp_path)
    deep = run / "deep" / "a" / "b" / "c" / "d" / "e"
    deep.mkdir(parents=True)
    for i in range(1_500):  # ~15,000 tokens of tree, every file five folders deep
        (deep / f"module_{i:04d}.py").write_text("x\n")
    (run / "a" / "b" / "c" / "d" / "e").mkdir(parents=True)
    (run / "a" / "b" / "c" / "d" / "four.py").write_text("x\n")
    (run / "a" / "b" / "c" / "d" / "e" / "five.py").write_text("x\n")
    (run / "shallow").mkdir()
    for i in range(60):
        (run / "shallow" / f"s_{i:02d}.py").write_text("x\n")
    rec, _ = judge(tmp_path, run, paper, config={"context_window_tokens": 40_000})
    assert "module_1499.py" in rec.messages("rank", "cd")[-1][1]  # under the budget: whole
    rec, _ = judge(tmp_path, run, paper, config={"context_window_tokens": 24_000})  # ~14,000 left
    tree = rec.messages("rank", "cd")[-1][1]
    assert "four.py" in tree and "five.py" not in tree and "module_" not in tree  # four folders deep at most
    rec, _ = judge(tmp_path, run, paper, config={"context_window_tokens": 10_200})  # ~190 left
    body = rec.messages("rank", "cd")[-1][1].split(">>>\n", 1)[1].split("\n<<<END", 1)[0]
    assert "s_59.py" not in body and count_tokens(body) <= 10_200 - 10_000  # then cut to what is left


def test_rule_the_first_ten_answer_lines_and_any_existing_path(tmp_path: Path, paper: Path) -> None:
    answer = [
        "Makefile",
        "",
        "nope.py",
        "reproduce.sh",
        "results/out.csv",
        "/train.py",
        "../../etc/passwd",
        " ./train.py ",
        "src",
        "reproduce.log",
        "README.md",
    ]
    rec, tree = judge(tmp_path, make_run(tmp_path), paper, rank=lambda paths: answer)
    meta = leaf_of(tree, "cd")["judge_metadata"]
    assert meta["evidence_files"] == [
        "Makefile",
        "reproduce.sh",
        "results/out.csv",
        "train.py",
        "reproduce.log",
    ]
    text = rec.text("grade_text", "cd")
    assert "bash reproduce.sh" in text and TABLE.splitlines()[1] in text  # not whitelisted, still read
    assert "# A reproduction" not in text  # README.md is the 11th line


def test_rule_ranked_files_fill_the_context_left_and_the_last_is_cut(tmp_path: Path, paper: Path) -> None:
    run = make_run(tmp_path)
    for name, n in (("one.py", 1_000), ("two.py", 3_000)):
        (run / name).write_text("".join(f"value_{i} = {i}  # {name}\n" for i in range(n)))
    rec, _ = judge(
        tmp_path, run, paper, rank=lambda p: ["one.py", "two.py"], config={"context_window_tokens": 40_000}
    )
    files = rec.messages("grade_text", "cd")[3][1]
    assert "value_999 = 999  # one.py" in files and "value_0 = 0  # two.py" in files
    assert "value_2999 = 2999  # two.py" not in files and "did not fit" in files
    assert count_tokens(files) <= 40_000 - 10_000 - 2_000  # the context left, less PaperBench's 2,000


# -------------------------------------------------------------------------- criteria and messages


def _deep_rubric(paper_leaves: int = 12) -> dict[str, Any]:
    def leaf(i: int) -> dict[str, Any]:
        return {
            "id": f"l{i}",
            "requirements": f"Requirement {i}.",
            "weight": 1,
            "sub_tasks": [],
            "task_category": "Code Development",
        }

    groups = [
        {
            "id": f"g{g}",
            "requirements": f"Group {g}.",
            "weight": 1,
            "sub_tasks": [leaf(g * 4 + i) for i in range(4)],
        }
        for g in range(paper_leaves // 4)
    ]
    return {"id": "root", "requirements": "Root.", "weight": 1, "sub_tasks": groups}


def test_rule_preceding_criteria_and_the_pinn_cap(tmp_path: Path) -> None:
    refs = {r.leaf.id: r for r in leaf_refs(parse_rubric(_deep_rubric()))}
    assert [n.id for _, n in refs["l9"].preceding] == ["root", "g0", "g1", "g2", "l8"]
    assert [n.id for _, n in refs["l11"].preceding] == ["root", "g0", "g1", "g2", "l8", "l9", "l10"]
    capped = {r.leaf.id: r for r in leaf_refs(parse_rubric(_deep_rubric()), cap=5)}
    assert [n.id for _, n in capped["l11"].preceding] == ["g1", "g2", "l8", "l9", "l10"]  # the last five
    assert [n.id for _, n in capped["l1"].preceding] == ["root", "g0", "l0"]  # fewer than the cap: all
    run = make_run(tmp_path)
    pinn = make_paper(tmp_path, "pinn", _deep_rubric())
    rec, _ = judge(tmp_path, run, pinn.folder)
    criterion = rec.messages("grade_text", "l11")[-2][1]
    assert "Group 1." in criterion and "Root." not in criterion and "Group 0." not in criterion
    other = make_paper(tmp_path, "not-pinn", _deep_rubric())
    rec, _ = judge(tmp_path, run, other.folder)
    assert "Root." in rec.messages("grade_text", "l11")[-2][1]


def test_rule_instructions_carry_every_simplejudge_instruction(tmp_path: Path, paper: Path) -> None:
    rec, _ = judge(tmp_path, make_run(tmp_path), paper)
    grading = rec.messages("grade_text", "ce")
    system, fmt, criterion = grading[0][1], grading[-1][1], grading[-2][1]
    for phrase in (
        "ground truth",
        "read it carefully",
        "we have already run it",
        "`reproduce.log`",
        "is missing, treat every criterion that relies on it as failed",
        "ONE criterion",
    ):
        assert phrase.lower() in " ".join(system.lower().split()), phrase
    for phrase in (
        "Expectations",
        "Reality",
        "Score: 0 or 1",
        "always give a score",
        "counts as a failure",
        "strict and thorough",
        "outside the scope",
        "name the files you refer to",
    ):
        assert phrase.lower() in " ".join(fmt.lower().split()), phrase
    assert "do NOT grade these" in criterion and "executed successfully?" in criterion
    rank_system = rec.messages("rank", "cd")[0][1]
    assert (
        "descending order of importance" in " ".join(rank_system.split())
        and "leaving none out" in rank_system
    )
    ra = rec.messages("grade_text", "ra")[-2][1]
    assert "produce evidence that agrees with these results" in ra
    cd = rec.messages("grade_text", "cd")[-2][1]
    assert "actual code that implements the requirement" in " ".join(cd.split())


def test_rule_messages_per_category_and_the_code_only_variant(tmp_path: Path, paper: Path) -> None:
    rec, _ = judge(tmp_path, make_run(tmp_path), paper)
    titles = {
        k: [c.split("\n", 1)[0] for _, c in rec.messages("grade_text", k)[1:]] for k in ("cd", "ce", "ra")
    }
    assert [t for t in titles["cd"] if "reproduce" in t] == ["## reproduce.sh of the submission, if any"]
    assert [t for t in titles["ce"] if "reproduce" in t] == [
        "## reproduce.sh of the submission, if any",
        "## reproduce.log of running it, if any",
    ]
    rec, tree = judge(tmp_path, make_run(tmp_path, name="code-only"), paper, args=("--code-dev",))
    assert {k for k, _, _ in rec.calls} == {"rank", "grade_text", "parse"} and len(rec.calls) == 3
    only = rec.messages("grade_text", "cd")
    assert not [c for _, c in only if c.startswith("## reproduce")] and "already run" not in only[0][1]


def test_rule_addenda_joined_with_one_newline(tmp_path: Path, paper: Path) -> None:
    (paper / "addendum.md").write_text("  Use the held-out split.")
    (paper / "judge.addendum.md").write_text("Accuracy within 2 points counts.\n\n")
    rec, _ = judge(tmp_path, make_run(tmp_path), paper)
    body = rec.messages("rank", "cd")[2][1].split("\n\n", 1)[1]
    assert body == "Use the held-out split.\nAccuracy within 2 points counts.\n"  # one newline, stripped
    (paper / "addendum.md").unlink()
    (paper / "judge.addendum.md").unlink()
    rec, _ = judge(tmp_path, make_run(tmp_path, name="none"), paper)
    assert "no addendum" in rec.messages("rank", "cd")[2][1]


# ------------------------------------------------------------------------------ answers and calls


def test_rule_parse_semantics() -> None:
    kept, why = parse_grade('{"valid_score": false, "score": 1, "explanation": "no score given"}')
    assert kept is not None and (kept.valid, kept.score) == (False, 1) and why is None
    assert parse_grade('{"valid_score": true, "score": 1.0, "explanation": "x"}')[0] is not None
    for bad in (
        '```json\n{"valid_score": true, "score": 1, "explanation": "x"}\n```',
        'Here it is: {"valid_score": true, "score": 1, "explanation": "x"}',
        '{"valid_score": true, "score": 2, "explanation": "x"}',
        '{"valid_score": true, "score": 0.5, "explanation": "x"}',
        '{"valid_score": true, "explanation": "x"}',
    ):
        verdict, why = parse_grade(bad)
        assert verdict is None and why is not None and why.startswith("parse error"), bad
    fallback, _ = parse_grade(
        'Parsed:\n```json\n{"valid_score": true, "score": 1, "explanation": "x"}\n```', False
    )
    assert fallback is not None  # only when the endpoint refused structured output


def test_rule_a_valid_score_false_answer_is_stored_with_its_score(tmp_path: Path, paper: Path) -> None:
    rec = Recorder()
    with OpenAIStandIn(observe=rec) as srv:
        original = srv.protocol_answer

        def answer(kind: str, body: dict[str, Any], leaf_ids: list[str]) -> str:
            if kind == "parse" and "stand-in verdict for cd" in str(body["messages"]):
                return json.dumps(
                    {"valid_score": False, "score": 1, "explanation": "unsure", "citations": []}
                )
            return original(kind, body, leaf_ids)

        srv.protocol_answer = answer  # type: ignore[method-assign]
        out = tmp_path / "o"
        cmd = [
            "judge",
            str(make_run(tmp_path)),
            "--paper",
            str(paper),
            "--out",
            str(out),
            "--base-url",
            srv.base_url,
            "--cache",
            str(tmp_path / "c.sqlite"),
        ]
        result = CliRunner().invoke(main, cmd, env=KEY)
    # stored as PaperBench stores it; the run says a leaf got no valid verdict (exit 1, no bare score)
    assert result.exit_code == 1 and "no score" in result.stdout.strip().splitlines()[-1]
    leaf = leaf_of(json.loads((out / "grade.json").read_text()), "cd")
    assert (leaf["valid_score"], leaf["score"], leaf["explanation"]) == (False, 1.0, "unsure")
    assert leaf["judge_metadata"]["error_kind"] == "parse"


def test_rule_transient_errors_retried_as_long_as_paperbench_does(tmp_path: Path, paper: Path) -> None:
    defaults = JudgeSettings()
    assert (defaults.retry_for_s, defaults.timeout_s, defaults.max_retries) == (7200.0, 600.0, None)
    assert (defaults.model, defaults.parsing_model) == ("o3-mini-2025-01-31", "gpt-4o-2024-08-06")
    assert (defaults.buffer_tokens, defaults.reasoning_effort) == (10_000, "high")
    eight = {"cd": [Fault("server_error")] * 8}
    _, tree = judge(tmp_path, make_run(tmp_path), paper, faults=eight, config={"backoff_base_s": 0.0})
    assert (
        leaf_of(tree, "cd")["valid_score"] is True and leaf_of(tree, "cd")["judge_metadata"]["attempts"] >= 9
    )


def test_rule_the_code_dev_variant_falls_back_to_the_root() -> None:
    no_cd = parse_rubric({**RUBRIC, "sub_tasks": [s for s in RUBRIC["sub_tasks"] if s["id"] != "cd"]})
    variant = code_dev_rubric(no_cd)
    assert variant.is_leaf and variant.id == "root" and variant.task_category == CODE_DEVELOPMENT
    assert [n.id for n in code_dev_rubric(parse_rubric(RUBRIC)).leaves()] == ["cd"]


def test_rule_judge_eval_pools_every_pair_on_raw_scores() -> None:
    rubric = parse_rubric(RUBRIC)

    def graded(scores: dict[str, float], invalid: tuple[str, ...] = ()) -> Any:
        return grade_tree(rubric, lambda leaf: LeafGrade(scores[leaf.id], leaf.id not in invalid, ""))

    gold_a, pred_a = graded({"cd": 1, "ce": 1, "ra": 0}), graded({"cd": 1, "ce": 0, "ra": 0})
    gold_b, pred_b = graded({"cd": 0, "ce": 1, "ra": 1}), graded({"cd": 0, "ce": 1, "ra": 1}, invalid=("ra",))
    result = judge_eval_pooled([(pred_a, gold_a), (pred_b, gold_b)])
    assert result.pooled.overall.num_samples == 5 and result.pooled.num_skipped == 1
    assert result.pooled.overall.accuracy == pytest.approx(4 / 5)  # pooled, not the mean of 2/3 and 2/2
    assert [r.overall.num_samples for r in result.per_pair] == [3, 2]
    continuous = graded({"cd": 0.6, "ce": 1, "ra": 1})  # a Subtree-style continuous score
    raw = judge_eval_pooled([(continuous, graded({"cd": 1, "ce": 1, "ra": 1}))])
    assert raw.pooled.overall.accuracy == pytest.approx(2 / 3)  # 0.6 is not 1: raw, not binarised


def test_rule_judge_eval_run_reads_a_bare_folders_creation_time(tmp_path: Path, paper: Path) -> None:
    """JudgeEval's runner grades a PaperBench executed submission with the gold tree as the rubric:
    the Result Analysis leaf is graded (the run touched results/out.csv by mtime), not 0 unseen."""
    rubric = parse_rubric(RUBRIC)
    gold = grade_tree(rubric, lambda leaf: LeafGrade(1.0, True, "")).to_dict()
    (tmp_path / "gold.json").write_text(json.dumps(gold))
    rec = Recorder()
    with OpenAIStandIn(observe=rec) as srv:
        cmd = ["judge-eval-run", str(make_run(tmp_path)), "--paper", str(paper), "--gold"]
        cmd += [str(tmp_path / "gold.json"), "--out", str(tmp_path / "ev"), "--base-url", srv.base_url]
        cmd += ["--cache", str(tmp_path / "c.sqlite"), "--json"]
        result = CliRunner().invoke(main, cmd, env=KEY)
    assert result.exit_code == 0, result.output
    assert [ids for kind, ids, _ in rec.calls if kind == "grade_text"].count(["ra"]) == 1
    assert json.loads(result.stdout)["judge_eval"]["overall"]["num_samples"] == 3


def test_rule_result_analysis_looks_for_touched_files_again_in_a_depth_limited_tree(tmp_path: Path) -> None:
    """When the Result Analysis tree must be limited to four folders, a touched file deeper than that
    no longer counts: the Result Analysis leaves get 0 without a call, as PaperBench's walk decides."""
    import os

    from judge.evidence import load_executed
    from judge.protocols.paperbench_evidence import category_tree
    from runner.metadata import RunMetadata

    run = make_run(tmp_path)
    os.utime(run / "results" / "out.csv", (1, 1))
    deep = run / "a" / "b" / "c" / "d" / "e"
    deep.mkdir(parents=True)
    (deep / "metrics.csv").write_text("acc\n0.87\n")  # touched (written after the creation time)
    ex = tmp_path / "ex"
    ex.mkdir()
    RunMetadata(None, False, False, 0.0, False, "", "", "n/a", creation_time=1_735_689_600.0).write(
        ex / "metadata.json"
    )
    sub = load_executed(ex, run)
    assert category_tree(sub, "Result Analysis", 10_000).ra_touched  # whole tree: the deep table counts
    limited = category_tree(sub, "Result Analysis", 15)  # over the budget: four folders deep at most
    assert limited.depth_limited and not limited.ra_touched
