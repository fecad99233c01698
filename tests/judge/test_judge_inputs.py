"""Invariant: what the judge is given is what PaperBench gives, measured honestly and never leaking:
logs are collapsed by template before any cut (the one result line survives), token counts are
real BPE counts, file trees stay bounded, the whitelists and preceding criteria follow SimpleJudge,
citations are checked against the executed submission, no configured secret reaches an output,
and the grade summary keeps its caveats through JSON (old `"dummy": true` summaries included)."""

from __future__ import annotations

import json
from pathlib import Path

from judge.citations import Citation, check_citations, parse_citations
from judge.config import JudgeSettings
from judge.evidence import load_executed
from judge.grader import JudgeOptions, judge_executed
from judge.llm import OpenAIBackend
from judge.logreduce import fit_log, reduce_log
from judge.papers import Paper
from judge.protocols.common import bounded_tree, leaf_refs, preceding_text, ra_outputs_exist, whitelisted
from judge.protocols.paperbench import parse_grade
from judge.protocols.paperbench_evidence import ranked_files
from judge.rubric import parse_rubric
from judge.secrets import REDACTED, Scrubber
from judge.summary import DUMMY_CAVEAT, NO_PAPER_CAVEAT, GradeSummary
from judge.tokens import count_tokens, head_tail_tokens, truncate_tokens
from tests.judge.fixtures import TOY_FILES, TOY_RUBRIC, make_executed
from tests.standins.openai_server import Fault, OpenAIStandIn

RESULT = "RESULT: test accuracy 0.8734"


def progress_log(n: int = 50_000) -> str:
    lines = [
        f"Epoch 1: {i * 100 // n:3d}%|{'#' * (i * 20 // n):<20}| {i}/{n} "
        f"[00:{i % 60:02d}<01:00, {i % 97}.5it/s]"
        for i in range(n)
    ]
    lines.insert(n // 2, RESULT)
    return "\n".join(lines) + "\n"


def test_log_reduction_keeps_the_result_line_and_collapses_the_rest() -> None:
    log = progress_log()
    reduced = reduce_log(log)
    assert reduced.lines_in == 50_001 and reduced.lines_out <= 5
    assert RESULT in reduced.text and "(repeated" in reduced.text
    assert RESULT in fit_log(log, 2_000)  # head and tail are cut only after collapsing
    naive = head_tail_tokens(log, 2_000, "[cut {n}]")
    assert RESULT not in naive  # what a head/tail cut alone would lose


def test_distinct_lines_are_kept_and_budget_keeps_head_and_tail() -> None:
    log = "".join(f"step {i}: the training phase finished\nevaluating the model now\n" for i in range(3))
    assert reduce_log(log).lines_out == 6  # alternating templates: no run to collapse
    text = "\n".join("word " * (i % 7 + 1) + f"item {i}" for i in range(5000))  # no two neighbours alike
    fitted = fit_log(text, 500)
    assert count_tokens(fitted) <= 520 and fitted.startswith("word item 0\n") and "item 4999" in fitted


def test_token_counts_are_real_not_chars_over_four() -> None:
    assert count_tokens("hello world") == 2
    log_like = "loss=0.1234 acc=0.9876 lr=3e-4 | " * 100
    assert count_tokens(log_like) > len(log_like) / 4 * 1.3  # a training log has ~2 characters a token
    cut, was_cut = truncate_tokens("word " * 1000, 100)
    assert was_cut and count_tokens(cut) <= 100
    assert count_tokens(head_tail_tokens("x y " * 5000, 300, "[cut {n}]")) <= 320


def test_file_tree_is_bounded_whatever_its_shape() -> None:
    paths = [f"d{i % 30}/e{i % 1000 // 30}/file_{i:05d}.py" for i in range(30_000)]
    tree = bounded_tree(paths, 2_000)
    assert count_tokens(tree) <= 2_100 and "30000 files" in tree
    flat = bounded_tree([f"f_{i:05d}.py" for i in range(30_000)], 2_000)
    assert count_tokens(flat) <= 2_100 and "more files not listed" in flat


def test_whitelists_and_the_result_analysis_rule() -> None:
    touched = frozenset({"results/t.csv"})
    assert whitelisted("src/a.py", "Code Development", touched)
    assert not whitelisted("src/a.py", "Result Analysis", touched)
    assert whitelisted("results/t.csv", "Result Analysis", touched)
    assert not whitelisted("results/old.csv", "Result Analysis", touched)
    assert whitelisted("README.md", "Result Analysis", touched)
    for skipped in ("venv/x.py", ".git/config", "a/__pycache__/b.py", "pkg.egg-info/x.txt", "wandb/r.json"):
        assert not whitelisted(skipped, "Code Development", touched)


def test_result_analysis_needs_a_touched_whitelisted_file(tmp_path: Path) -> None:
    files = {**TOY_FILES, "model.bin": b"\x00\x01weights"}
    only_binary = make_executed(tmp_path, files, changed=("model.bin",), name="bin")
    assert not ra_outputs_exist(load_executed(only_binary))
    assert ra_outputs_exist(load_executed(make_executed(tmp_path, name="ok")))


def test_preceding_criteria_follow_simplejudge() -> None:
    refs = {r.leaf.id: r for r in leaf_refs(parse_rubric(TOY_RUBRIC))}
    pre = [n.id for _, n in refs["res-kl"].preceding]
    assert pre == ["root", "impl", "run", "run-train"]  # root, sibling of ancestor, ancestor, sibling
    assert [n.id for _, n in refs["impl-loss"].preceding] == ["root", "impl"]
    assert "  - The experiments were run." in preceding_text(refs["res-kl"].preceding)
    capped = {r.leaf.id: r for r in leaf_refs(parse_rubric(TOY_RUBRIC), cap=1)}
    assert [n.id for _, n in capped["res-kl"].preceding] == ["run-train"]


def test_rank_answers_and_parse_answers_are_read_as_paperbench_reads_them(tmp_path: Path) -> None:
    sub = load_executed(make_executed(tmp_path))
    answer = "1. `loss.py`\n- ./train.py\nnot/a/file.py\n./loss.py\n"
    _, shown = ranked_files(sub, answer, 10_000)
    assert shown == ("loss.py",)  # literal lines: list markers and backticks make other paths
    ok, _ = parse_grade('{"valid_score": true, "score": 1, "explanation": "e", "citations": []}')
    assert ok is not None and ok.score == 1 and ok.valid
    bad, why = parse_grade('{"valid_score": true, "score": 3, "explanation": "e", "citations": []}')
    assert bad is None and why is not None and "outside [0, 1]" in why
    kept, why = parse_grade('{"valid_score": false, "score": 1, "explanation": "", "citations": []}')
    assert kept is not None and not kept.valid and kept.score == 1 and why is None  # stored as it is


def test_citations_are_checked_against_the_executed_submission(tmp_path: Path) -> None:
    sub = load_executed(make_executed(tmp_path))
    texts = {f.path: f.text for f in sub.files}

    def read(path: str) -> str | None:
        return sub.log if path == "reproduce.log" else texts.get(path)

    cites = parse_citations(
        [
            {"file": "loss.py", "lines": [2, 3], "quote": "return   batch.mean()"},
            {"file": "./loss.py", "lines": None, "quote": "return batch.median()"},
            {"file": "reproduce.log", "lines": None, "quote": "step 100\n loss 0.3"},
            {"file": "ghost.py", "lines": None, "quote": "x"},
            {"nonsense": True},
        ]
    )
    checked = check_citations(cites, read)
    assert [c.found for c in checked] == [True, False, True, False]
    assert checked[0] == Citation("loss.py", (2, 3), "return   batch.mean()", True)


def test_no_secret_reaches_any_output(tmp_path: Path, paper: Paper) -> None:
    key = "sk-live-very-secret-0123456789"
    executed = make_executed(tmp_path)
    with OpenAIStandIn() as srv:
        srv.leaf_faults["impl-loss"] = [Fault("echo_key")]  # a permanent 400 that repeats the key
        srv.leaf_faults["run-train"] = [Fault("echo_key_answer")]  # an answer that repeats it
        js = JudgeSettings(protocol="reprobot", leaves_per_call=1, base_url=srv.base_url, max_retries=0)
        out = judge_executed(
            executed, paper, tmp_path / "out", JudgeOptions(js, secrets=("webhook-secret-abcdef",)),
            OpenAIBackend.from_settings(js, key),
        )  # fmt: skip
    leaf = out.graded.find("impl-loss")
    assert leaf is not None and not leaf.valid_score and REDACTED in leaf.explanation
    written = "".join(p.read_text() for p in (tmp_path / "out").iterdir() if p.is_file())
    assert key not in written and REDACTED in written
    from bot.report import render_pr_comment, write_html_report

    assert key not in render_pr_comment(tmp_path / "out")
    assert key not in write_html_report(tmp_path / "out").read_text()


def test_scrubber_handles_multiline_keys_and_short_values() -> None:
    pem = "-----BEGIN KEY-----\nAAAABBBBCCCCDDDD\nEEEEFFFFGGGG\n-----END KEY-----"
    s = Scrubber.of([pem, "short", None])
    assert "AAAABBBBCCCCDDDD" not in s.text("x AAAABBBBCCCCDDDD y") and "short" in s.text("short")
    assert s.obj({"k": ["EEEEFFFFGGGG"]}) == {"k": [REDACTED]}


def test_grade_summary_round_trips_and_reads_old_dummy_summaries() -> None:
    s = GradeSummary("p", 0.5, 1.0, 10, 5, 0, caveats=(NO_PAPER_CAVEAT,), models=("o3-mini", "gpt-4o"))
    again = GradeSummary.from_json(s.to_json())
    assert again == s
    old = GradeSummary.from_dict({"paper_id": "p", "score": 0.1, "dummy": True, "model": "dummy"})
    assert old.caveats == (DUMMY_CAVEAT,) and old.model == "dummy"
    assert "dummy" not in json.loads(s.to_json())
