"""Quotas and costs: a submitter's graded runs of one paper per UTC day are capped by
``quotas.graded_runs_per_paper_per_day`` and the run over the limit is answered with a clear check
run and comment, not graded; infrastructure failures, maintainers' reruns and exempt users are not
charged; ``reprobot jobs`` shows each job's judge cost and ``reprobot costs`` totals them by paper,
submitter and day."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner

from bot.cli import main
from bot.jobs.queue import JobQueue
from bot.settings import queue_path
from tests.bot.conftest import payload
from tests.bot.test_bot_worker import REPO, _comment_payload, deliver, fake, work
from tests.standins.github_server import GitHubStandIn


def _push(settings: Any, sha: str) -> None:
    data = payload("pull_request/synchronize")
    data["pull_request"]["head"]["sha"] = sha
    deliver(settings, "pull_request", data)


def test_over_the_limit_is_answered_not_graded(make_settings: Any, github: GitHubStandIn) -> None:
    settings = make_settings(quotas={"graded_runs_per_paper_per_day": 2})
    fake(settings, cost_usd=0.5)
    for sha in ("a" * 40, "b" * 40, "c" * 40):
        _push(settings, sha)
        work(settings)
    jobs = JobQueue(queue_path(settings)).jobs()
    assert [j.outcome.status if j.outcome else None for j in jobs] == ["graded", "graded", "rejected"]
    refused = jobs[-1]
    run = github.check_runs[refused.check_run_id or 0]
    assert run["conclusion"] == "failure" and "daily quota reached" in run["output"]["title"]
    [comment] = github.comments.values()
    assert "daily quota reached" in comment["body"] and "limit is 2 per paper per day" in comment["body"]
    calls = (settings.data_dir / "fake_grader_calls.jsonl").read_text().splitlines()
    assert len(calls) == 2  # the refused run never reached the grader

    # a maintainer's rerun (a new generation) is not charged and not refused
    pull = payload("pull_request/synchronize")["pull_request"]
    pull["head"]["sha"] = "c" * 40
    github.add_pull(REPO, pull)
    github.set_permission(REPO, "Codertocat", "write")
    deliver(settings, "issue_comment", _comment_payload("rerun"))
    work(settings)
    calls = (settings.data_dir / "fake_grader_calls.jsonl").read_text().splitlines()
    assert len(calls) == 3


def test_infra_failures_are_not_charged_and_exempt_users_unlimited(
    make_settings: Any, github: GitHubStandIn
) -> None:
    settings = make_settings(quotas={"graded_runs_per_paper_per_day": 1}, bot={"max_attempts": 1})
    fake(settings, status="infra_error")
    _push(settings, "a" * 40)
    work(settings)
    fake(settings)
    _push(settings, "b" * 40)
    work(settings)
    statuses = [j.outcome.status if j.outcome else None for j in JobQueue(queue_path(settings)).jobs()]
    assert statuses == ["infra_error", "graded"]
    user = payload("pull_request/synchronize")["pull_request"]["user"]["login"]
    exempt = make_settings(quotas={"graded_runs_per_paper_per_day": 1, "exempt_users": [user]})
    _push(exempt, "c" * 40)
    work(exempt)
    assert JobQueue(queue_path(exempt)).jobs()[-1].outcome.status == "graded"  # type: ignore[union-attr]


def test_jobs_and_costs_commands(make_settings: Any, github: GitHubStandIn, tmp_path: Any) -> None:
    settings = make_settings()
    fake(settings, cost_usd=0.25)
    for sha in ("a" * 40, "b" * 40):
        _push(settings, sha)
        work(settings)
    config = ["--config", str(tmp_path / "reprobot.yaml")]
    runner = CliRunner()
    out = runner.invoke(main, [*config, "jobs"], env={"REPROBOT_CONFIG": ""})
    assert out.exit_code == 0, out.output
    assert out.output.count("cost=$0.2500") == 2
    data = json.loads(runner.invoke(main, [*config, "jobs", "--json"]).output)
    assert [j["judge_cost_usd"] for j in data] == [0.25, 0.25]
    out = runner.invoke(main, [*config, "costs"])
    assert out.exit_code == 0, out.output
    assert "by paper:" in out.output and "by submitter:" in out.output and "by day:" in out.output
    assert "total: $0.5000 over 2 graded run(s)" in out.output
    totals = json.loads(runner.invoke(main, [*config, "costs", "--json"]).output)
    assert totals["total_usd"] == 0.5 and totals["by"]["paper"][0]["runs"] == 2
