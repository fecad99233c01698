"""Invariant (issue 12's "Done when"): on a 361-leaf rubric with a ~100 KB paper and an executed
submission whose 4 MB log hides one result line between 50,000 progress-bar lines, recorded by the
OpenAI stand-in: without paper.md the judge refuses before any call; the paperbench protocol makes
three calls a leaf, every call naming a requirement carries the paper, Result Analysis calls show
no source code, Code Development calls show no log, the log-reading calls show the log's head but
not the result line 2 MB in (PaperBench reads the first 200,000 characters of reproduce.log);
the reprobot protocol carries the paper and the result line too and bills at most 10% as much
input (cached tokens at half price); every prompt stays bounded for 30,000 empty files (the
paperbench protocol by the model's context window, as SimpleJudge's tree is; the reprobot
protocol by its own budgets)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from judge.config import JudgeSettings
from judge.context import planning_window
from judge.grader import JudgeOptions, PaperMissing, judge_executed
from judge.llm import OpenAIBackend
from judge.summary import GradeSummary
from tests.judge.scenario import CODE_MARK, PAPER_MARK, RESULT_LINE, make_many_files, make_scenario
from tests.standins.openai_server import OpenAIStandIn

KEY = {"GRADER_OPENAI_API_KEY": "sk-scenario-key-0123456789", "OPENAI_API_KEY": "", "REPROBOT_CONFIG": ""}


class Recorder:
    """Facts about every request, kept small (the bodies would be gigabytes)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rows: list[tuple[str, str, bool, bool, bool, bool, int]] = []

    def __call__(self, kind: str, leaf_ids: list[str], messages: list[tuple[str, str]]) -> None:
        text = "\n".join(c for _, c in messages)
        category = ""
        for line in text.splitlines():
            if line.startswith("Category: "):
                category = line.removeprefix("Category: ").strip()
                break
        row = (
            kind,
            category,
            PAPER_MARK in text,
            CODE_MARK in text,
            RESULT_LINE in text,
            "Epoch 3:" in text,
            len(text),
        )
        with self.lock:
            self.rows.append(row)


def billed(s: GradeSummary) -> float:
    return s.tokens.input - s.tokens.cached_input + 0.5 * s.tokens.cached_input


def settings(server: OpenAIStandIn, protocol: str) -> JudgeSettings:
    return JudgeSettings(protocol=protocol, base_url=server.base_url, concurrency=16, timeout_s=60)


def test_no_paper_is_refused_before_any_call(tmp_path: Path) -> None:
    paper, executed = make_scenario(tmp_path, with_paper=False, log_lines=100)
    with OpenAIStandIn() as srv:
        with pytest.raises(PaperMissing, match="paper.md"):
            js = settings(srv, "paperbench")
            judge_executed(
                executed, paper, tmp_path / "out", JudgeOptions(js), OpenAIBackend.from_settings(js, "k")
            )
        args = ["judge", str(executed), "--paper", str(paper.folder), "--out", str(tmp_path / "o2"),
                "--base-url", srv.base_url]  # fmt: skip
        result = CliRunner().invoke(main, args, env=KEY)
        assert srv.calls == 0
    assert result.exit_code == 1 and "paper.md" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    allowed = CliRunner().invoke(main, [*args, "--allow-missing-paper", "--dummy"], env=KEY)
    assert allowed.exit_code == 0, allowed.output
    assert "CAVEAT: graded WITHOUT the paper" in allowed.output
    assert "graded WITHOUT the paper" in (tmp_path / "o2" / "judge_summary.json").read_text()


@pytest.mark.slow
def test_the_scenario_under_both_protocols(tmp_path: Path) -> None:
    paper, executed = make_scenario(tmp_path)
    assert 3_900_000 < (executed / "reproduce.log").stat().st_size < 4_600_000
    outcomes = {}
    rows = {}
    for protocol in ("paperbench", "reprobot"):
        rec = Recorder()
        with OpenAIStandIn(observe=rec) as srv:
            js = settings(srv, protocol)
            backend = OpenAIBackend.from_settings(js, KEY["GRADER_OPENAI_API_KEY"])
            outcomes[protocol] = judge_executed(
                executed, paper, tmp_path / protocol, JudgeOptions(js), backend
            )
            assert srv.validation_errors == []
        rows[protocol] = rec.rows
    pb, rb = outcomes["paperbench"].summary, outcomes["reprobot"].summary
    assert pb.leaves == rb.leaves == 361 and pb.coverage == rb.coverage == 1.0

    kinds = [r[0] for r in rows["paperbench"]]
    assert kinds.count("rank") == kinds.count("grade_text") == kinds.count("parse") == 361
    assert pb.calls == 3 * 361
    naming = [r for r in rows["paperbench"] if r[0] in ("rank", "grade_text")]
    assert all(r[2] for r in naming), "a call naming a requirement lacks the paper"
    grading = [r for r in rows["paperbench"] if r[0] == "grade_text"]
    assert {r[1] for r in grading} == {"Code Development", "Code Execution", "Result Analysis"}
    assert not any(r[3] for r in grading if r[1] == "Result Analysis"), "RA saw source code"
    assert not any(r[5] or r[4] for r in grading if r[1] == "Code Development"), "CD saw the log"
    log_readers = [r for r in grading if r[1] in ("Code Execution", "Result Analysis")]
    assert all(r[5] and not r[4] for r in log_readers), "PaperBench's 200,000-character read cap"
    assert all(r[3] for r in grading if r[1] == "Code Development")  # the ranked code reached it

    assert all(r[2] for r in rows["reprobot"]), "a reprobot call lacks the paper"
    assert any(r[4] for r in rows["reprobot"]), "the result line never reached the reprobot judge"
    ratio = billed(rb) / billed(pb)
    print(f"\nbilled input: paperbench {billed(pb):,.0f}, reprobot {billed(rb):,.0f} ({100 * ratio:.1f}%)")
    assert ratio <= 0.10


def test_thirty_thousand_empty_files_keep_every_prompt_bounded(tmp_path: Path) -> None:
    executed = make_many_files(tmp_path)
    paper, _ = make_scenario(tmp_path, leaves=12, log_lines=10)
    worst: dict[str, int] = {}
    for protocol in ("paperbench", "reprobot"):
        rec = Recorder()
        with OpenAIStandIn(observe=rec) as srv:
            js = settings(srv, protocol)
            out = judge_executed(
                executed, paper, tmp_path / protocol, JudgeOptions(js), OpenAIBackend.from_settings(js, "k")
            )
        per_call = out.summary.tokens.input / max(out.summary.calls, 1)
        worst[protocol] = max(r[6] for r in rec.rows)
        bound = planning_window(js) if protocol == "paperbench" else 60_000
        assert per_call < bound, f"{protocol}: {per_call:.0f} tokens a call"
    print(f"\nlongest request with 30,000 files (characters): {worst}")
