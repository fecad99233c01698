"""A pending post is durable state: when GitHub keeps failing to list or create comments, a graded
job stays ``reporting`` and is retried with backoff for as long as it takes (never ``failed``
with the check run complete and no comment); once GitHub answers again, the comment lands once.
GitHub unavailable from the start ends in a neutral check once it is back, never a failure."""

from __future__ import annotations

import time
from typing import Any

from bot.jobs.context import job_states
from bot.report import COMMENT_MARKER
from tests.bot.conftest import payload
from tests.bot.test_bot_worker import deliver, work
from tests.standins.github_server import GitHubStandIn


def test_the_score_comment_survives_a_long_github_outage(make_settings: Any, github: GitHubStandIn) -> None:
    settings = make_settings(bot={"retry_backoff_s": 0.01, "max_attempts": 2}, github={"retries": 0})
    github.fail("issues/list-comments", status=502, times=10_000)
    deliver(settings, "pull_request", payload("pull_request/opened"))
    for _ in range(12):  # far more failures than max_attempts
        queue = work(settings)
        time.sleep(0.05)
    [job] = queue.jobs()
    assert job.state == "reporting" and job.attempts >= 4, (job.state, job.attempts, job.message)
    assert job.outcome is not None and job.outcome.graded and "posting pending" in job.message
    assert github.comments == {}
    github.faults.clear()  # GitHub is back
    job_states(settings, queue).retry_now(job.id)  # the organizer need not wait for the backoff here
    work(settings)
    [job] = queue.jobs()
    assert job.state == "posted", job.message
    assert len([c for c in github.comments.values() if COMMENT_MARKER in c["body"]]) == 1
    [run] = github.check_runs.values()
    assert run["status"] == "completed"


def test_github_unavailable_ends_neutral_never_failure(make_settings: Any, github: GitHubStandIn) -> None:
    settings = make_settings(bot={"retry_backoff_s": 0.01, "max_attempts": 2}, github={"retries": 0})
    github.fail("checks/create", status=503, times=10_000)
    deliver(settings, "pull_request", payload("pull_request/opened"))
    for _ in range(6):
        queue = work(settings)
        time.sleep(0.05)
    [job] = queue.jobs()
    assert job.state == "reporting" and job.outcome is not None and job.outcome.infra_error
    github.faults.clear()
    job_states(settings, queue).retry_now(job.id)
    work(settings)
    [job] = queue.jobs()
    [run] = github.check_runs.values()
    assert run["status"] == "completed" and run["conclusion"] == "neutral", run
    assert job.state == "infra_error"
