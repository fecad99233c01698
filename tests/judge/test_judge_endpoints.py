"""Any OpenAI-compatible judge works out of the box, and a judge that graded nothing never prints a
score. Against the llama.cpp stand-in (the recorded server's manners, tests/standins/llamacpp.py)
and the OpenAI one, through the real CLI and the real openai client on a real socket:

- with only ``--base-url`` and ``--model`` (no key, no configuration) both protocols grade every
  leaf: JSON schema refused with a 500 steps down to a JSON object (remembered for the run, one
  refusal for the reprobot protocol's first call alone), every request carries ``max_tokens``,
  no Authorization header is sent, parse and rank follow the chosen model, the summary names the
  endpoint and the capabilities used, the cost is "unpriced", and the last line is the score;
- with every call refused, ``reprobot judge`` exits 1 and its last line is not a number; with every
  call failing (5xx) it exits 3; the summary counts every request, failed ones included;
- junk answers (the model's recorded ones) end as invalid leaves with their reasons, exit 1.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import main
from judge.graded import LeafGrade, grade_tree
from judge.papers import Paper
from tests.standins.llamacpp import llamacpp_standin
from tests.standins.openai_server import Fault, OpenAIStandIn

NO_KEY = {"GRADER_OPENAI_API_KEY": "", "OPENAI_API_KEY": "", "REPROBOT_CONFIG": ""}
LEAVES = 4  # the toy rubric's leaves (tests/judge/fixtures.py)


def judge(
    executed: Path, paper: Paper, out: Path, srv: OpenAIStandIn, *extra: str, config: Path | None = None
) -> Result:
    args = [
        *(["--config", str(config)] if config else []),
        "judge",
        str(executed),
        "--paper",
        str(paper.folder),
    ]
    args += ["--out", str(out), "--base-url", srv.base_url, "--model", "smollm2", "--cache", str(out) + ".db"]
    return CliRunner().invoke(main, [*args, *extra], env=NO_KEY)


def config(tmp_path: Path, **judge_keys: object) -> Path:
    path = tmp_path / "reprobot.yaml"
    path.write_text(json.dumps({"judge": judge_keys}))  # JSON is YAML
    return path


def last_line(result: Result) -> str:
    return result.stdout.strip().splitlines()[-1]


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("protocol", ["paperbench", "reprobot"])
def test_llamacpp_with_only_base_url_and_model_grades_every_leaf(
    executed: Path, paper: Paper, tmp_path: Path, protocol: str
) -> None:
    out = tmp_path / "out"
    with llamacpp_standin() as srv:
        result = judge(executed, paper, out, srv, "--protocol", protocol)
    assert result.exit_code == 0, result.output
    assert is_number(last_line(result)) and srv.validation_errors == []
    summary = json.loads((out / "judge_summary.json").read_text())
    assert summary["invalid"] == 0 and summary["coverage"] == 1.0
    e = summary["endpoint"]
    assert e["host"] == srv.base_url.split("/")[2] and e["backend"] == "openai-compatible"
    assert e["capabilities"]["response_format"] == "json_object"
    assert e["capabilities"]["output_cap_param"] == "max_tokens"
    assert any("json_schema refused (HTTP 500: body.response_format.type" in x for x in e["learned"])
    schema_refusals = [r for r in srv.received if r.answered == "rejected_format"]
    if protocol == "reprobot":  # the first call goes alone: one refusal, then JSON objects only
        assert len(schema_refusals) == 1
    assert 1 <= len(schema_refusals) <= LEAVES
    assert e["requests"] == srv.calls == summary["attempts"] and e["failed_requests"] == len(schema_refusals)
    assert all(not r.auth for r in srv.received)  # keyless: no Authorization header at all
    assert all(r.cap_params == ("max_tokens",) and r.cap is not None and r.cap > 0 for r in srv.received)
    assert {r.model for r in srv.received} == {"smollm2"}  # rank and parse follow the chosen model
    assert summary["models"] == ["smollm2"] and summary["cost_usd"] is None
    assert f"endpoint {e['host']} (openai-compatible): json_object answers" in result.stdout
    assert "unpriced" in result.stdout


def test_every_call_refused_exits_1_and_prints_no_score_last(
    executed: Path, paper: Paper, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    with llamacpp_standin() as srv:
        srv.faults.extend(Fault("bad_request") for _ in range(1000))
        result = judge(executed, paper, out, srv, "--protocol", "reprobot", "--leaves-per-call", "1")
    assert result.exit_code == 1, result.output
    assert not is_number(last_line(result)) and last_line(result).startswith("no score: incomplete grade")
    err = [line for line in result.stderr.splitlines() if line.startswith("reprobot:")]
    assert len(err) == 1 and "4 of 4 leaves have no verdict (4 refused)" in err[0]
    summary = json.loads((out / "judge_summary.json").read_text())
    assert summary["calls"] == 0 and summary["attempts"] == srv.calls > 0  # every attempt counted
    assert summary["failed_leaves"] == {"refused": LEAVES}
    grade = json.loads((out / "grade.json").read_text())
    leaves = [leaf for group in grade["sub_tasks"] for leaf in group["sub_tasks"]]
    assert all(not x["valid_score"] and "refused the request" in x["explanation"] for x in leaves)


def test_every_call_failing_exits_3_and_counts_every_attempt(
    executed: Path, paper: Paper, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    cfg = config(tmp_path, max_retries=1, backoff_base_s=0.01, backoff_max_s=0.02)
    with OpenAIStandIn(require_key=False) as srv:
        srv.faults.extend(Fault("server_error") for _ in range(1000))
        result = judge(
            executed, paper, out, srv, "--protocol", "reprobot", "--leaves-per-call", "1", config=cfg
        )
    assert result.exit_code == 3, result.output
    assert not is_number(last_line(result)) and "retry later" in result.stderr
    summary = json.loads((out / "judge_summary.json").read_text())
    assert summary["calls"] == 0 and summary["attempts"] == srv.calls == 2 * LEAVES  # tried twice each
    assert summary["endpoint"]["failed_requests"] == 2 * LEAVES
    assert summary["failed_leaves"] == {"transient": LEAVES}


def test_junk_answers_are_invalid_leaves_with_reasons_and_exit_1(
    executed: Path, paper: Paper, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    with llamacpp_standin(junk=True) as srv:
        result = judge(executed, paper, out, srv)
    assert result.exit_code == 1, result.output
    assert not is_number(last_line(result)) and "could not be read as grades" in result.stderr
    grade = json.loads((out / "grade.json").read_text())
    leaves = [leaf for group in grade["sub_tasks"] for leaf in group["sub_tasks"]]
    invalid = [x for x in leaves if not x["valid_score"]]
    assert invalid and all(x["explanation"].startswith("Could not grade: ") for x in invalid)
    assert all(x["judge_metadata"]["error_kind"] == "parse" for x in invalid)
    assert all(r.cap is not None for r in srv.received)  # rambling stops at the cap, every time


def test_judge_eval_run_exits_nonzero_when_a_protocol_graded_nothing(
    executed: Path, paper: Paper, tmp_path: Path
) -> None:
    gold = tmp_path / "gold.json"
    gold.write_text(json.dumps(grade_tree(paper.rubric, lambda leaf: LeafGrade(1.0, True, "")).to_dict()))
    with llamacpp_standin() as srv:
        srv.faults.extend(Fault("bad_request") for _ in range(1000))
        args = ["judge-eval-run", str(executed), "--paper", str(paper.folder), "--gold", str(gold), "--out",
                str(tmp_path / "ev"), "--base-url", srv.base_url, "--model", "smollm2",
                "--protocols", "paperbench,reprobot", "--cache", str(tmp_path / "c.db")]  # fmt: skip
        result = CliRunner().invoke(main, args, env=NO_KEY)
    assert result.exit_code == 1, result.output
    assert "paperbench: incomplete grade" in result.stdout and "reprobot: incomplete grade" in result.stdout
    assert not is_number(last_line(result))


def test_rank_and_parse_models_are_set_apart_only_when_asked(
    executed: Path, paper: Paper, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    with llamacpp_standin() as srv:
        result = judge(executed, paper, out, srv, "--rank-model", "ranker", "--parse-model", "parser")
    assert result.exit_code == 0, result.output
    models = {(r.kind, r.model) for r in srv.received}
    assert models == {("rank", "ranker"), ("grade_text", "smollm2"), ("parse", "parser")}
    assert json.loads((out / "judge_summary.json").read_text())["models"] == ["smollm2", "ranker", "parser"]
