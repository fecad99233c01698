"""A dispatched GitHub Actions reproduction that never reports back (runner lost, webhook lost)
is not waited for forever: after ``dispatch.timeout_s`` it is dispatched again (an infrastructure
retry), and when attempts run out the check run completes neutral, never failure."""

from __future__ import annotations

import time
from typing import Any

from bot.github.pygithub import github_factory
from bot.jobs.queue import JobQueue
from bot.jobs.worker import Worker, build_grader
from bot.settings import queue_path
from tests.bot.conftest import payload
from tests.bot.test_bot_worker import deliver
from tests.standins.github_server import GitHubStandIn


def test_a_silent_workflow_is_dispatched_again_then_neutral(
    make_settings: Any, github: GitHubStandIn
) -> None:
    settings = make_settings(
        dispatch={"mode": "actions", "workflow_repository": "ops/reproducer", "timeout_s": 0.3},
        bot={"max_attempts": 2},
    )
    queue = JobQueue(queue_path(settings), lease_s=settings.bot.lease_s)
    deliver(settings, "pull_request", payload("pull_request/opened"))
    worker = Worker(settings, queue, build_grader(settings), github_factory(settings), poll_s=0.05)
    worker.run(once=True)
    [job] = queue.jobs()
    assert job.state == "dispatched" and len(github.dispatches) == 1
    time.sleep(0.4)  # the workflow never reports back
    worker.run(once=True)
    job = queue.get(job.id)
    assert job.state == "dispatched" and len(github.dispatches) == 2, job.message
    time.sleep(0.4)
    worker.run(once=True)
    job = queue.get(job.id)
    [run] = github.check_runs.values()
    assert run["status"] == "completed" and run["conclusion"] == "neutral", run
    assert "did not report back" in run["output"]["summary"]
    assert job.state == "infra_error" and len(github.dispatches) == 2
