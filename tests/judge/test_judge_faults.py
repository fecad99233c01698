"""The judge never loses a leaf: against a real socket and the real openai client, transient faults
(429 with Retry-After, 500, hangs, broken bodies) are retried, unusable verdicts (malformed JSON, a
score of 7) are asked once more and then marked invalid with the reason, endpoints without
structured output still work, and every request matches the published OpenAPI schema."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from judge.config import JudgeSettings
from judge.grader import ExecutionInfraError, JudgeOptions, judge_executed
from judge.llm import DUMMY_PREFIX, DummyBackend, JudgeConfigError, OpenAIBackend, make_backend
from judge.papers import Paper
from judge.summary import DUMMY_CAVEAT
from tests.judge.conftest import backend_for, fast_settings
from tests.judge.fixtures import make_executed
from tests.standins.openai_server import Fault, OpenAIStandIn

LEAVES = ["impl-loss", "impl-batch", "run-train", "res-kl"]


def grade(executed: Path, paper: Paper, out: Path, server: OpenAIStandIn, **kw: object):  # type: ignore[no-untyped-def]
    settings = fast_settings(server, **kw)
    return judge_executed(executed, paper, out, JudgeOptions(settings), backend_for(settings))


def test_all_leaves_graded_and_requests_match_the_spec(
    executed: Path, paper: Paper, server: OpenAIStandIn, tmp_path: Path
) -> None:
    out = grade(executed, paper, tmp_path / "out", server)
    assert server.calls == 4 and all(r.structured for r in server.received)
    assert out.summary.coverage == 1.0 and out.summary.score == 1.0
    assert out.summary.tokens.input > 0 and out.summary.tokens.reasoning == 200
    saved = json.loads((tmp_path / "out" / "grade.json").read_text())
    leaf = saved["sub_tasks"][0]["sub_tasks"][0]
    assert leaf["valid_score"] is True and leaf["judge_metadata"]["model"] == "gpt-4o-mini"
    assert leaf["judge_metadata"]["tokens"]["input"] > 0
    summary = json.loads((tmp_path / "out" / "judge_summary.json").read_text())
    for key in (
        "paper_id",
        "mode",
        "model",
        "models",
        "protocol",
        "caveats",
        "score",
        "coverage",
        "by_category",
        "leaves",
        "invalid",
        "tokens",
        "cost_usd",
        "started_at",
        "finished_at",
        "prompt_version",
    ):
        assert key in summary
    lines = (tmp_path / "out" / "judge_calls.jsonl").read_text().splitlines()
    assert len(lines) == 4 and all(json.loads(x)["response"]["usage"]["input"] > 0 for x in lines)


def test_stand_in_responses_match_the_response_schema(server: OpenAIStandIn) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": 'one entry for each of: "a".'}]}
    server.validation_errors.clear()
    assert list(server.response_validator.iter_errors(server.completion(body, '{"grades": []}'))) == []


def test_429_retry_after_is_honoured(
    executed: Path, paper: Paper, server: OpenAIStandIn, tmp_path: Path
) -> None:
    server.leaf_faults["impl-batch"] = [Fault("rate_limit", retry_after=1)]
    t0 = time.monotonic()
    out = grade(executed, paper, tmp_path / "out", server)
    assert time.monotonic() - t0 >= 1.0
    assert out.summary.invalid == 0 and server.calls == 5
    assert out.graded.find("impl-batch").judge_metadata["attempts"] == 2  # type: ignore[union-attr]


def test_500_and_broken_body_are_retried(
    executed: Path, paper: Paper, server: OpenAIStandIn, tmp_path: Path
) -> None:
    server.leaf_faults["impl-loss"] = [Fault("server_error"), Fault("bad_body")]
    out = grade(executed, paper, tmp_path / "out", server)
    assert out.summary.invalid == 0 and server.calls == 6


def test_a_hang_past_the_timeout_is_retried(
    executed: Path, paper: Paper, server: OpenAIStandIn, tmp_path: Path
) -> None:
    server.leaf_faults["run-train"] = [Fault("hang", seconds=2.0)]
    out = grade(executed, paper, tmp_path / "out", server, timeout_s=0.5)
    assert out.summary.invalid == 0
    calls = [json.loads(x) for x in (tmp_path / "out" / "judge_calls.jsonl").read_text().splitlines()]
    assert any("timed out" in (c["error"] or "") for c in calls)


def test_leaf_that_keeps_failing_is_invalid_with_reason(
    executed: Path, paper: Paper, server: OpenAIStandIn, tmp_path: Path
) -> None:
    server.leaf_faults["impl-batch"] = [Fault("server_error")] * 3
    out = grade(executed, paper, tmp_path / "out", server, max_retries=2)
    leaf = out.graded.find("impl-batch")
    assert leaf is not None and leaf.valid_score is False and leaf.score == 0
    assert "server error 500" in leaf.explanation and "gave up after 3 attempts" in leaf.explanation
    assert out.summary.invalid == 1 and out.summary.coverage < 1.0


@pytest.mark.parametrize("fault", [Fault("malformed"), Fault("score", score=7)])
def test_unusable_verdict_is_asked_once_more(
    fault: Fault, executed: Path, paper: Paper, server: OpenAIStandIn, tmp_path: Path
) -> None:
    server.leaf_faults["impl-loss"] = [fault]
    out = grade(executed, paper, tmp_path / "out", server)
    assert out.summary.invalid == 0 and server.calls == 5
    retry = [r for r in server.received if r.leaf_ids == ["impl-loss"]]
    assert len(retry) == 2


@pytest.mark.parametrize("fault", [Fault("malformed"), Fault("score", score=7)])
def test_unusable_twice_is_invalid(
    fault: Fault, executed: Path, paper: Paper, server: OpenAIStandIn, tmp_path: Path
) -> None:
    server.leaf_faults["impl-loss"] = [fault, fault]
    out = grade(executed, paper, tmp_path / "out", server)
    leaf = out.graded.find("impl-loss")
    assert leaf is not None and not leaf.valid_score and "asked twice" in leaf.explanation
    assert server.calls == 5


def test_endpoint_without_structured_output(executed: Path, paper: Paper, tmp_path: Path) -> None:
    with OpenAIStandIn(structured_output=False) as srv:
        out = grade(executed, paper, tmp_path / "out", srv, concurrency=1)
    assert out.summary.invalid == 0 and out.summary.score == 1.0
    # JSON schema refused, then JSON object refused; plain text from then on, for the whole run
    assert [r.answered for r in srv.received].count("rejected_format") == 2
    assert [r.structured for r in srv.received[2:]] == [False] * (srv.calls - 2)
    assert out.summary.endpoint is not None and out.summary.endpoint.capabilities.response_format == "text"
    assert srv.validation_errors == []


def test_grouped_mode_gives_each_leaf_its_own_verdict(executed: Path, paper: Paper, tmp_path: Path) -> None:
    with OpenAIStandIn(verdict=lambda leaf_id: 0 if leaf_id == "impl-batch" else 1) as srv:
        out = grade(executed, paper, tmp_path / "out", srv, leaves_per_call=4)
    assert srv.calls == 3  # [impl-loss, impl-batch] CD, [run-train] CE, [res-kl] RA
    assert srv.received[0].leaf_ids == ["impl-loss", "impl-batch"] or ["impl-loss", "impl-batch"] in [
        r.leaf_ids for r in srv.received
    ]
    assert out.graded.find("impl-batch").score == 0  # type: ignore[union-attr]
    assert out.graded.find("impl-loss").score == 1  # type: ignore[union-attr]
    assert "impl-batch" in out.graded.find("impl-batch").explanation  # type: ignore[union-attr]


def test_missing_key_is_a_clear_error_before_any_work(paper: Paper, tmp_path: Path) -> None:
    """OpenAI's endpoint needs a key; a custom base URL does not (tests/judge/test_endpoint_*)."""
    with pytest.raises(JudgeConfigError, match="GRADER_OPENAI_API_KEY") as caught:
        make_backend(JudgeSettings(), None, "openai")
    assert "--judge dummy" in str(caught.value) and "--base-url" in str(caught.value)


def test_infra_error_run_is_not_judged(paper: Paper, tmp_path: Path) -> None:
    ex = make_executed(tmp_path, status="infra_error", name="broken")
    with pytest.raises(ExecutionInfraError, match="infrastructure error"):
        judge_executed(ex, paper, tmp_path / "out", JudgeOptions(), DummyBackend())
    assert not (tmp_path / "out" / "grade.json").exists()


def test_budget_exhausted_leaves_are_invalid_not_zero(
    executed: Path, paper: Paper, server: OpenAIStandIn, tmp_path: Path
) -> None:
    out = grade(executed, paper, tmp_path / "out", server, budget_tokens=1, concurrency=1)
    assert server.calls == 1
    invalid = [leaf for leaf in out.graded.leaves() if not leaf.valid_score]
    assert len(invalid) == 3 and all("budget exhausted" in leaf.explanation for leaf in invalid)


def test_dummy_judge_says_so_everywhere(executed: Path, paper: Paper, tmp_path: Path) -> None:
    a = judge_executed(executed, paper, tmp_path / "a", JudgeOptions(), DummyBackend())
    b = judge_executed(executed, paper, tmp_path / "b", JudgeOptions(), DummyBackend())
    assert a.summary.caveats == (DUMMY_CAVEAT,) and a.summary.cost_usd == 0.0
    assert [x.score for x in a.graded.leaves()] == [x.score for x in b.graded.leaves()]
    graded = [x for x in a.graded.leaves() if not x.judge_metadata or not x.judge_metadata["no_call"]]
    assert graded and all(DUMMY_PREFIX in leaf.explanation for leaf in graded)
    assert json.loads((tmp_path / "a" / "judge_summary.json").read_text())["caveats"] == [DUMMY_CAVEAT]


def test_openai_backend_is_constructed_from_settings_only() -> None:
    backend = OpenAIBackend.from_settings(JudgeSettings(model="o3-mini"), "sk-x")
    assert backend.model == "o3-mini" and backend.caveat is None and backend.secrets == ("sk-x",)
