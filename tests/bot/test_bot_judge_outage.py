"""A judge outage is never the submitter's failure: leaves whose calls failed for infrastructure
reasons (429, 5xx, connection errors, timeouts: a ``transient`` failure kind, recorded where the
error was caught; message text decides nothing) are retried with backoff for
``bot.judge_retry_s`` while the leaf cache keeps the good ones; a grade still incomplete then is
``infra_error`` ("incomplete: judge unavailable", coverage shown), ``reprobot grade`` exits 3, and
the check run is neutral, never failure. An endpoint that refuses the configuration (a 400) is not
an outage: nothing is waited for, and the grade is neutral too (the organizer's to fix). Driven
through the real ``openai`` client against the OpenAI stand-in on a real socket."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bot.cli import main
from bot.github.pygithub import github_factory
from bot.jobs.check_runs import conclusion_and_output
from bot.jobs.context import JobContext, job_states
from bot.jobs.queue import JobQueue
from bot.jobs.records import JobOutcome
from bot.settings import Settings, queue_path
from judge.failures import FailureKind
from judge.graded import load_graded
from judge.infra import infra_failed_leaves, leaf_failure_kind
from tests.bot.conftest import payload
from tests.bot.test_bot_worker import deliver
from tests.judge.fixtures import make_executed, make_paper
from tests.standins.openai_server import Fault, OpenAIStandIn


@pytest.fixture
def server() -> Iterator[OpenAIStandIn]:
    with OpenAIStandIn() as srv:
        yield srv
    assert srv.validation_errors == []


def _config(tmp_path: Path, server: OpenAIStandIn, retry_s: float) -> Path:
    config = {
        "data_dir": str(tmp_path / "data"),
        "judge": {
            "base_url": server.base_url,
            "model": "gpt-4o-mini",
            "max_retries": 0,
            "backoff_base_s": 0.01,
            "timeout_s": 5.0,
        },
        "bot": {"judge_retry_s": retry_s, "judge_retry_backoff_s": 0.05},
    }
    path = tmp_path / "reprobot.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _grade(tmp_path: Path, config: Path) -> tuple[int, str, str]:
    paper = make_paper(tmp_path)
    executed = make_executed(tmp_path)
    args = ["--config", str(config), "grade", str(executed), "--paper", str(paper.folder)]
    args += ["--reuse", str(executed), "--judge", "openai", "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(main, args, env={"GRADER_OPENAI_API_KEY": "sk-test-key"})
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("kind", ["rate_limit", "server_error", "unavailable"])
def test_every_call_failing_is_incomplete_and_exits_3(
    tmp_path: Path, server: OpenAIStandIn, kind: str
) -> None:
    server.faults.extend(Fault(kind, retry_after=0) for _ in range(10_000))
    code, out, err = _grade(tmp_path, _config(tmp_path, server, retry_s=0.5))
    assert code == 3, out + err
    assert "infra_error: incomplete: judge unavailable" in err and "coverage 0%" in err
    tree = load_graded(tmp_path / "out" / "grade.json")
    leaves = [leaf.id for leaf in tree.leaves()]
    assert sorted(infra_failed_leaves(tree)) == sorted(leaves)
    asked = Counter(leaf for r in server.received for leaf in r.leaf_ids)
    assert all(asked[leaf] >= 2 for leaf in leaves), asked  # retried, not given up at once


def test_every_call_refused_is_the_configurations_neutral_and_not_waited_for(
    tmp_path: Path, server: OpenAIStandIn
) -> None:
    server.faults.extend(Fault("bad_request") for _ in range(10_000))
    code, out, err = _grade(tmp_path, _config(tmp_path, server, retry_s=600))  # no wait: fast
    assert code == 3, out + err
    assert "infra_error: incomplete: the judge's configuration stopped 4 leaves" in err
    assert "coverage 0%" in err and "judge unavailable" not in err
    tree = load_graded(tmp_path / "out" / "grade.json")
    assert infra_failed_leaves(tree) == []  # refused, not an outage
    assert all(leaf.judge_metadata["error_kind"] == "refused" for leaf in tree.leaves())  # type: ignore[index]
    asked = Counter(leaf for r in server.received for leaf in r.leaf_ids)
    assert set(asked.values()) == {1}, asked  # each leaf's first call refused once, never retried


def test_a_passing_outage_is_retried_and_the_cache_keeps_the_good_leaves(
    tmp_path: Path, server: OpenAIStandIn
) -> None:
    server.leaf_faults["impl-loss"] = [Fault("server_error"), Fault("rate_limit", retry_after=0)]
    code, out, err = _grade(tmp_path, _config(tmp_path, server, retry_s=30))
    assert code == 0, out + err
    summary = json.loads((tmp_path / "out" / "judge_summary.json").read_text())
    assert summary["coverage"] == 1.0
    # each call a leaf needs (rank, grade, parse under the paperbench protocol) is paid once
    asked = Counter((leaf, r.kind) for r in server.received if r.answered == "ok" for leaf in r.leaf_ids)
    assert asked[("impl-loss", "grade_text")] == 1 and all(n == 1 for n in asked.values()), asked


def test_a_request_refused_for_what_it_held_is_not_an_outage(tmp_path: Path, server: OpenAIStandIn) -> None:
    """A 400 on the request's content (a content filter) is ``permanent``: those leaves are invalid
    with that kind, never retried as an outage (the shared FailureKind map)."""
    server.faults.extend(Fault("content_refused") for _ in range(10_000))
    _grade(tmp_path, _config(tmp_path, server, retry_s=0.5))
    tree = load_graded(tmp_path / "out" / "grade.json")
    assert infra_failed_leaves(tree) == []
    kinds = {leaf_failure_kind(leaf.judge_metadata) for leaf in tree.leaves() if not leaf.valid_score}
    assert kinds == {FailureKind.PERMANENT}


def test_the_recorded_kind_decides_never_the_message() -> None:
    outage = {"error": "anything at all", "error_kind": "transient"}
    assert leaf_failure_kind(outage) is FailureKind.TRANSIENT
    worded_like_an_outage = {"error": "judge call failed: rate limited (429)", "error_kind": "parse"}
    assert leaf_failure_kind(worded_like_an_outage) is FailureKind.PARSE
    assert leaf_failure_kind({"error": "judge call failed: server error 503"}) is None  # no kind: no outage
    assert leaf_failure_kind({"error": "x", "error_kind": "infra"}) is FailureKind.TRANSIENT  # older trees
    assert leaf_failure_kind({"error": "x", "error_kind": "grading"}) is FailureKind.PERMANENT
    assert leaf_failure_kind({"error": None, "error_kind": "transient"}) is None  # graded leaves have no kind


def test_an_incomplete_grade_is_a_neutral_check_never_failure(settings: Settings) -> None:
    deliver(settings, "pull_request", payload("pull_request/opened"))
    queue = JobQueue(queue_path(settings))
    [job] = queue.jobs()
    message = "incomplete: judge unavailable (4 leaves not graded; coverage 20%, partial score 0.200)"
    job = job_states(settings, queue).reporting(
        job, JobOutcome("infra_error", message, score=0.2, coverage=0.2, final=True)
    )
    ctx = JobContext(settings, queue, github_factory(settings)(None, job.repo))
    conclusion, output = conclusion_and_output(ctx, job, None)
    assert conclusion == "neutral"
    assert output.title.startswith("Incomplete: judge unavailable") and "coverage 20%" in output.title
