"""Every judge call is bounded and every bound is learned, not assumed (real client, real socket):

- context: a configured window refuses, at planning, the leaves whose prompt cannot fit (no
  request, one line for the run); an unknown window is learned from the endpoint's first
  overflow, after which prompts that cannot fit are refused without being sent; a prompt that
  fits with a smaller cap is resent with the cap clamped, the margin set to the tokenizer ratio the
  endpoint revealed;
- output cap: on every request, the API's parameter for it (``max_completion_tokens`` on OpenAI's,
  ``max_tokens`` elsewhere), swapped once when refused (OpenAI's reasoning models refuse
  ``max_tokens``);
- a refused parameter the run needs refuses the run once: later requests are not sent;
- a timeout closes the connection, and a server that watches it stops generating; the request is
  sent again with half its output cap;
- prices follow the configured model name, never the echoed one; a custom endpoint is unpriced
  unless priced; a dollar budget that cannot be counted is refused before any call.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from judge.config import JudgeSettings
from judge.grader import JudgeOptions, JudgeOutcome, judge_executed
from judge.llm import LLMRequest, TransientLLMError, make_backend
from judge.llm.errors import EndpointAdapted
from judge.llm.negotiation import default_cap_param
from judge.papers import Paper
from tests.standins.llamacpp import llamacpp_standin
from tests.standins.openai_server import OpenAIStandIn

NO_KEY = {"GRADER_OPENAI_API_KEY": "", "OPENAI_API_KEY": "", "REPROBOT_CONFIG": ""}
ONE_BY_ONE = {"protocol": "reprobot", "leaves_per_call": 1, "concurrency": 1}


def grade(executed: Path, paper: Paper, out: Path, srv: OpenAIStandIn, **kw: object) -> JudgeOutcome:
    js = JudgeSettings(**{"base_url": srv.base_url, "model": "smollm2", **ONE_BY_ONE, **kw})  # type: ignore[arg-type]
    return judge_executed(executed, paper, out, JudgeOptions(js), make_backend(js, None))


def test_a_configured_window_refuses_at_planning_with_one_line(
    executed: Path, paper: Paper, tmp_path: Path
) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(json.dumps({"judge": {"context_window_tokens": 1024, **ONE_BY_ONE}}))
    with llamacpp_standin() as srv:
        args = ["--config", str(cfg), "judge", str(executed), "--paper", str(paper.folder), "--out",
                str(tmp_path / "o"), "--base-url", srv.base_url, "--model", "smollm2"]  # fmt: skip
        result = CliRunner().invoke(main, args, env=NO_KEY)
        assert srv.calls == 0  # not one doomed request
    assert result.exit_code == 1, result.output
    said = [line for line in result.stdout.splitlines() if "refused before any call" in line]
    assert len(said) == 1 and said[0].startswith("CAVEAT: 4 leaves refused") and "1,024 tokens" in said[0]
    summary = json.loads((tmp_path / "o" / "judge_summary.json").read_text())
    assert summary["failed_leaves"] == {"refused": 4} and summary["attempts"] == 0
    grade_json = json.loads((tmp_path / "o" / "grade.json").read_text())
    leaf = grade_json["sub_tasks"][0]["sub_tasks"][0]
    assert "cannot fit smollm2's context window of 1,024 tokens (configured)" in leaf["explanation"]


def test_an_unknown_window_is_learned_then_checked_before_sending(
    executed: Path, paper: Paper, tmp_path: Path
) -> None:
    with llamacpp_standin(context_window=1100) as srv:
        out = grade(executed, paper, tmp_path / "o", srv)
    assert [r.answered for r in srv.received] == ["rejected_format", "context"]
    e = out.summary.endpoint
    assert e is not None and e.refused_unsent == 3 and e.capabilities.context_window_tokens == 1100
    assert e.capabilities.context_source == "learned" and any(
        "context window 1,100 tokens" in x for x in e.learned
    )
    assert out.summary.failed_leaves == {"refused": 4}
    assert all(
        "cannot fit smollm2's context window of 1,100 tokens" in x.explanation for x in out.graded.leaves()
    )


@pytest.mark.parametrize("ratio", [1.0, 1.3])
def test_a_cap_that_does_not_fit_is_clamped_and_the_tokenizer_ratio_learned(
    executed: Path, paper: Paper, tmp_path: Path, ratio: float
) -> None:
    window = 1900 if ratio == 1.0 else 2400  # prompts of 1,185 to 1,304 o200k tokens here
    with llamacpp_standin(context_window=window, token_ratio=ratio) as srv:
        out = grade(executed, paper, tmp_path / "o", srv)
    assert out.summary.invalid == 0 and srv.validation_errors == []
    overflows = [r for r in srv.received if r.answered == "context"]
    assert len(overflows) == 1 and overflows[0].cap == 1024  # the first guess, refused once
    later = [r for r in srv.received if r.answered == "ok"]
    assert len(later) == 4 and all(r.cap is not None and 512 <= r.cap < 1024 for r in later)
    e = out.summary.endpoint
    assert e is not None and any(f"counts {ratio:.2f}x o200k tokens" in x for x in e.learned)


def test_openai_reasoning_models_refuse_max_tokens_and_the_cap_parameter_is_swapped(
    executed: Path, paper: Paper, tmp_path: Path
) -> None:
    refusal = (
        "Unsupported parameter: 'max_tokens' is not supported with this model. "
        "Use 'max_completion_tokens' instead."
    )
    with OpenAIStandIn(refuse_params={"max_tokens": (400, refusal)}) as srv:
        js = JudgeSettings(base_url=srv.base_url, model="o3-mini", **ONE_BY_ONE)  # type: ignore[arg-type]
        out = judge_executed(
            executed, paper, tmp_path / "o", JudgeOptions(js), make_backend(js, "sk-test-key")
        )
    assert out.summary.invalid == 0
    assert [r.cap_params for r in srv.received] == [("max_tokens",)] + [("max_completion_tokens",)] * 4
    e = out.summary.endpoint
    assert e is not None and e.capabilities.output_cap_param == "max_completion_tokens"
    assert all(r.cap == 32_768 for r in srv.received[1:])  # a reasoning model's cap, reasoning included
    assert default_cap_param(JudgeSettings()) == "max_completion_tokens"  # on OpenAI's own endpoint


def test_a_refused_parameter_refuses_the_run_once(executed: Path, paper: Paper, tmp_path: Path) -> None:
    with OpenAIStandIn(
        refuse_params={"reasoning_effort": (400, "Unrecognized request argument supplied: reasoning_effort")}
    ) as srv:
        js = JudgeSettings(base_url=srv.base_url, model="o3-mini", **ONE_BY_ONE)  # type: ignore[arg-type]
        out = judge_executed(
            executed, paper, tmp_path / "o", JudgeOptions(js), make_backend(js, "sk-test-key")
        )
    assert srv.calls == 1  # then every later request refused without being sent
    e = out.summary.endpoint
    assert e is not None and e.refused_unsent == 3
    assert any("refuses the parameter reasoning_effort" in x for x in e.learned)
    assert out.summary.failed_leaves == {"refused": 4} and out.summary.incomplete().exit_code == 1  # type: ignore[union-attr]


def test_a_timeout_closes_the_connection_and_a_watching_server_stops() -> None:
    """The server would take 51 s (1,024 tokens at 0.05 s); the client gives up at 1 s and closes
    the connection, and the server, watching it, stops with most of the answer never generated."""
    with llamacpp_standin(junk=True, seconds_per_token=0.05) as srv:
        js = JudgeSettings(base_url=srv.base_url, model="smollm2", timeout_s=1.0)
        backend = make_backend(js, None)
        with pytest.raises(TransientLLMError, match="timed out after 1 s"):
            backend.complete(LLMRequest((("user", "Rank the files."),), ("leaf",), timeout_s=1.0))
        for _ in range(400):  # the server's thread notices within its polling step
            if srv.received and srv.received[0].abandoned:
                break
            time.sleep(0.05)
    rec = srv.received[0]
    assert rec.cap == 1024 and rec.abandoned and rec.generated < 1024 // 2


def test_a_request_that_timed_out_is_sent_again_with_half_its_cap() -> None:
    with llamacpp_standin(junk=True, seconds_per_token=0.05) as srv:
        backend = make_backend(JudgeSettings(base_url=srv.base_url, model="smollm2", timeout_s=0.5), None)
        request = LLMRequest((("user", "Grade the criteria."),), ("a", "b"), timeout_s=0.5)  # cap 2,048
        for _ in range(4):
            with pytest.raises(TransientLLMError):
                backend.complete(request)
        other = LLMRequest((("user", "Another request."),), ("a", "b"), timeout_s=0.5)
        with pytest.raises(TransientLLMError):
            backend.complete(other)
    assert [r.cap for r in srv.received] == [2048, 1024, 512, 512, 2048]  # never under the minimum
    assert any("sent again with half its cap" in x for x in backend.endpoint().learned)


def test_prices_follow_the_configured_name_never_the_echoed_one(
    executed: Path, paper: Paper, tmp_path: Path
) -> None:
    prices = {"smollm2": {"input": 1.0, "cached_input": 0.5, "output": 2.0}}
    with OpenAIStandIn(require_key=False, echo_model="gpt-4o") as srv:
        priced = grade(executed, paper, tmp_path / "a", srv, prices=prices)
        unpriced = grade(executed, paper, tmp_path / "b", srv)
    t = priced.summary.tokens
    expected = ((t.input - t.cached_input) * 1.0 + t.cached_input * 0.5 + t.output * 2.0) / 1e6
    assert priced.summary.cost_usd == pytest.approx(expected) and unpriced.summary.cost_usd is None
    calls = [json.loads(x) for x in (tmp_path / "a" / "judge_calls.jsonl").read_text().splitlines()]
    assert {c["response"]["model"] for c in calls} == {"gpt-4o"}  # recorded as echoed, priced as asked


def test_a_dollar_budget_that_cannot_be_counted_is_refused_before_any_call(
    executed: Path, paper: Paper, tmp_path: Path
) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(json.dumps({"judge": {"budget_usd": 1.0}}))
    with llamacpp_standin() as srv:
        args = ["--config", str(cfg), "judge", str(executed), "--paper", str(paper.folder), "--out",
                str(tmp_path / "o"), "--base-url", srv.base_url, "--model", "smollm2"]  # fmt: skip
        result = CliRunner().invoke(main, args, env=NO_KEY)
        assert srv.calls == 0
    assert (
        result.exit_code == 1
        and "judge.budget_usd" in result.stderr
        and "judge.budget_tokens" in result.stderr
    )


def test_a_token_budget_is_enforced_without_any_price(executed: Path, paper: Paper, tmp_path: Path) -> None:
    with llamacpp_standin() as srv:
        out = grade(executed, paper, tmp_path / "o", srv, budget_tokens=1)
    assert srv.calls == 2  # the JSON schema refusal, then the one call the budget allowed
    assert out.summary.cost_usd is None and out.summary.failed_leaves == {"refused": 3}


def test_a_configured_key_is_sent_and_a_keyless_endpoint_gets_none() -> None:
    with OpenAIStandIn() as srv:
        keyed = make_backend(JudgeSettings(base_url=srv.base_url, model="m"), "sk-test-key")
        keyed.complete(LLMRequest((("user", "hi"),), ()))
        keyless = make_backend(JudgeSettings(base_url=srv.base_url, model="m"), None)
        with pytest.raises(Exception, match="refused the key"):  # this one wants a key: 401, one line
            keyless.complete(LLMRequest((("user", "hi"),), ()))
    assert [r.auth for r in srv.received] == [True]  # the 401 is answered before recording


def test_an_adapted_request_is_sent_again_by_the_caller_not_the_backend() -> None:
    """The backend never resends on its own: each adaptation is one refused request the caller
    logs (judge_calls.jsonl) and the summary counts."""
    with llamacpp_standin(keep_bodies=True) as srv:
        backend = make_backend(JudgeSettings(base_url=srv.base_url, model="smollm2"), None)
        schema = {"type": "object", "properties": {}, "additionalProperties": False}
        with pytest.raises(EndpointAdapted):
            backend.complete(LLMRequest((("user", "hi"),), ("x",), schema))
        assert srv.calls == 1
        answer = backend.complete(LLMRequest((("user", "hi"),), ("x",), schema))
    assert srv.calls == 2 and answer.response_format == "json_object"
    body = srv.received[-1].body
    assert body is not None and body["response_format"] == {"type": "json_object"}
    assert body["messages"][-1]["content"].endswith(json.dumps(schema, separators=(",", ":")))
