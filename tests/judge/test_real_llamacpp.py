"""Against the real llama.cpp server (SmolLM2-135M behind llama-cpp-python's, on loopback, no key),
what the llama.cpp stand-in plays is what the real server does, and the judge copes with it: a
JSON-schema format refused with a 500 steps down to a JSON object; ``max_tokens`` honoured; any
model name echoed (and priced as asked: unpriced); a prompt over its 8,192-token window refused,
the window learned and later prompts refused without a request; ``reprobot judge`` with only
``--base-url`` and ``--model`` writes a graded tree whose every leaf has a verdict or its reason,
and prints a bare score last only when every leaf got a verdict. Skipped, with the reason, where
the server or the model cannot be had (no prebuilt wheel: compiling llama.cpp takes 8-30 minutes).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from judge.config import JudgeSettings
from judge.llm import ContextOverflow, LLMRequest, StructuredOutputUnsupported, make_backend
from judge.papers import Paper
from tests.standins.llamacpp_server import Unavailable, install, model_file, serve, stop

pytestmark = pytest.mark.slow
SCHEMA = {
    "type": "object",
    "properties": {"score": {"type": "integer"}},
    "required": ["score"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def real_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("llamacpp") / "server.log"
    try:
        python = install(compile_ok=False)
        proc, base = serve(python, model_file(python), log)
    except Unavailable as exc:
        pytest.skip(f"the real llama.cpp server is not available here: {exc}")
    yield base
    stop(proc)


def test_the_real_server_refuses_json_schema_with_a_500_and_the_judge_steps_down(real_server: str) -> None:
    js = JudgeSettings(base_url=real_server, model="gpt-4o", max_output_tokens=16)
    backend = make_backend(js, None)
    request = LLMRequest((("user", "Is 2 + 2 = 4? Answer with a score: 1 yes, 0 no."),), ("x",), SCHEMA)
    with pytest.raises(StructuredOutputUnsupported, match="HTTP 500: body.response_format.type"):
        backend.complete(request)
    answer = backend.complete(request)
    assert answer.response_format == "json_object" and answer.model == "gpt-4o"  # any name, echoed
    assert 0 < answer.usage.output <= 16  # max_tokens honoured
    e = backend.endpoint()
    assert (e.requests, e.failed_requests) == (2, 1) and e.capabilities.output_cap_param == "max_tokens"


def test_the_real_server_teaches_its_window_then_nothing_doomed_is_sent(real_server: str) -> None:
    backend = make_backend(JudgeSettings(base_url=real_server, model="smollm2", max_output_tokens=16), None)
    big = LLMRequest((("user", "moons " * 9000),), ("x",))
    with pytest.raises(ContextOverflow, match="context window of 8,192 tokens") as caught:
        backend.complete(big)
    assert caught.value.window == 8192 and caught.value.kind.value == "refused"
    with pytest.raises(ContextOverflow):
        backend.complete(big)
    e = backend.endpoint()
    assert (e.requests, e.refused_unsent) == (1, 1) and e.capabilities.context_source == "learned"


def test_reprobot_judge_with_only_base_url_and_model(
    real_server: str, executed: Path, paper: Paper, tmp_path: Path
) -> None:
    cfg = tmp_path / "fast.yaml"  # only to keep a 2-core test short: answers of 48 tokens at most
    cfg.write_text(json.dumps({"judge": {"max_output_tokens": 48}}))
    out = tmp_path / "out"
    args = ["--config", str(cfg), "judge", str(executed), "--paper", str(paper.folder), "--out", str(out),
            "--base-url", real_server, "--model", "smollm2", "--protocol", "reprobot"]  # fmt: skip
    env = {"GRADER_OPENAI_API_KEY": "", "OPENAI_API_KEY": "", "REPROBOT_CONFIG": ""}
    result = CliRunner().invoke(main, args, env=env)
    summary = json.loads((out / "judge_summary.json").read_text())
    assert summary["endpoint"]["host"] == real_server.split("/")[2]
    assert summary["endpoint"]["capabilities"]["response_format"] == "json_object"
    assert summary["models"] == ["smollm2"] and summary["cost_usd"] is None
    grade = json.loads((out / "grade.json").read_text())
    leaves = [leaf for group in grade["sub_tasks"] for leaf in group["sub_tasks"]]
    assert all(x["valid_score"] or x["explanation"].startswith("Could not grade: ") for x in leaves)
    last = result.stdout.strip().splitlines()[-1]
    if all(x["valid_score"] for x in leaves):
        assert result.exit_code == 0 and float(last) == summary["score"]
    else:
        assert result.exit_code == 1 and last.startswith("no score: incomplete grade"), result.output
