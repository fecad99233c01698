"""Invariant: the paperbench protocol is SimpleJudge's structure: per leaf a ranking call (paper,
joined addendum, criterion, the category's whitelisted tree), a grading call with its messages in
SimpleJudge's order (paper, addendum, ranked files, reproduce.sh, the log for CE/RA only, preceding
criteria, criterion with its question, answer format), and a structured parsing call; PaperBench's
default models and reasoning effort; the code-only variant drops the run; a score outside [0, 1]
is a parse error (that leaf invalid); judge_metadata carries PaperBench's keys and citations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from judge.config import JudgeSettings
from judge.evidence import load_executed
from judge.grader import JudgeOptions, judge_executed
from judge.llm import OpenAIBackend
from judge.papers import Paper
from judge.protocols.paperbench import PaperBenchTask
from judge.protocols.registry import protocol_named
from tests.standins.openai_server import OpenAIStandIn


def titles(messages: tuple[tuple[str, str], ...]) -> list[str]:
    return ["system" if r == "system" else c.split("\n", 1)[0].removeprefix("## ") for r, c in messages]


def task_of(executed: Path, paper: Paper, leaf_id: str, code_only: bool = False) -> PaperBenchTask:
    js = JudgeSettings()
    plan = protocol_named(js.protocol).plan(load_executed(executed), paper, paper.rubric, js, code_only)
    item = next(i for i in plan.items if i.leaf_ids == (leaf_id,))
    assert isinstance(item.payload, PaperBenchTask)
    return item.payload


def test_grading_messages_in_simplejudge_order(executed: Path, paper: Paper) -> None:
    ce = task_of(executed, paper, "run-train")
    assert titles(ce.grade_messages("train.py")[0]) == [
        "system", "The paper", "Addendum (clarifies the paper and how to judge its reproduction)",
        "The most relevant files of the submission, concatenated", "reproduce.sh of the submission, if any",
        "reproduce.log of running it, if any", "Criterion to judge", "Answer format",
    ]  # fmt: skip
    cd = task_of(executed, paper, "impl-loss")
    assert "reproduce.log of running it, if any" not in titles(cd.grade_messages("")[0])
    assert titles(cd.rank_messages) == [
        "system", "The paper", "Addendum (clarifies the paper and how to judge its reproduction)",
        "Criterion", "The submission's files",
    ]  # fmt: skip
    ra = task_of(executed, paper, "res-kl")
    assert "├── README.md" in ra.rank_messages[-1][1] and "loss.py" not in ra.rank_messages[-1][1]
    code_only = task_of(executed, paper, "impl-loss", code_only=True)
    msgs = code_only.grade_messages("")[0]
    assert "reproduce.sh of the submission, if any" not in titles(msgs) and "reproduce.sh`" not in msgs[0][1]
    assert "we have already run it" in cd.grade_messages("")[0][0][1]


def test_three_calls_with_paperbench_models_and_metadata(
    executed: Path, paper: Paper, tmp_path: Path
) -> None:
    with OpenAIStandIn(keep_bodies=True) as srv:
        # PaperBench's models, as on OpenAI's endpoint (a custom one would parse with o3-mini too)
        js = JudgeSettings(base_url=srv.base_url, concurrency=2, parse_model="gpt-4o-2024-08-06")
        out = judge_executed(
            executed, paper, tmp_path / "o", JudgeOptions(js), OpenAIBackend.from_settings(js, "k")
        )
        bodies: list[dict[str, Any]] = [r.body for r in srv.received if r.body is not None]
        kinds = [r.kind for r in srv.received]
        assert srv.validation_errors == []
    by_kind = {k: [b for b, kk in zip(bodies, kinds, strict=True) if kk == k] for k in set(kinds)}
    assert {b["model"] for b in by_kind["rank"] + by_kind["grade_text"]} == {"o3-mini-2025-01-31"}
    assert all(b.get("reasoning_effort") == "high" for b in by_kind["rank"] + by_kind["grade_text"])
    assert all(b["model"] == "gpt-4o-2024-08-06" and "reasoning_effort" not in b for b in by_kind["parse"])
    assert all(b["response_format"]["json_schema"]["name"] == "parsed_grade" for b in by_kind["parse"])
    assert out.summary.models == ("o3-mini-2025-01-31", "gpt-4o-2024-08-06")
    assert out.summary.protocol == "paperbench"
    leaf = out.graded.find("impl-loss")
    assert leaf is not None and leaf.valid_score and leaf.judge_metadata is not None
    meta = leaf.judge_metadata
    assert (
        meta["full_judge_response"].startswith("Expectations:") and "Score: 1" in meta["full_judge_response"]
    )
    assert set(meta["token_usage"]) == {"o3-mini-2025-01-31", "gpt-4o-2024-08-06"} and meta["evidence_files"]
    assert isinstance(meta["citations"], list)
    saved = json.loads((tmp_path / "o" / "grade.json").read_text())
    assert saved["valid_score"] is True


def test_an_out_of_range_score_is_a_parse_error(executed: Path, paper: Paper, tmp_path: Path) -> None:
    with OpenAIStandIn() as srv:
        js = JudgeSettings(base_url=srv.base_url, concurrency=1)
        original = srv.protocol_answer

        def answer(kind: str, body: dict[str, Any], leaf_ids: list[str]) -> str:
            text = original(kind, body, leaf_ids)
            if kind == "parse" and "impl-batch" in str(body["messages"]):
                return json.dumps({"valid_score": True, "score": 7, "explanation": "x", "citations": []})
            return text

        srv.protocol_answer = answer  # type: ignore[method-assign]
        out = judge_executed(
            executed, paper, tmp_path / "o", JudgeOptions(js), OpenAIBackend.from_settings(js, "k")
        )
    leaf = out.graded.find("impl-batch")
    assert leaf is not None and not leaf.valid_score and "outside [0, 1]" in leaf.explanation
    assert out.summary.invalid == 1 and out.summary.coverage < 1.0
