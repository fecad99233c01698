"""A `kill -9` of the worker or the server between any two steps loses nothing and posts once.

The worker runs as a real subprocess (`reprobot worker --once`) that SIGKILLs itself right after a
given step (REPROBOT_TEST_CRASH_AFTER, see tests/bot/crash_at_step.py); another worker then resumes
once the lease runs out. The
GitHub stand-in must end with exactly one completed check run and one comment. The server
(`reprobot serve`) is killed after receiving and after storing a delivery; GitHub's redelivery of
the same X-GitHub-Delivery then yields exactly one job.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from bot.github.pygithub import github_factory
from bot.jobs.queue import JobQueue
from bot.jobs.worker import Worker, build_grader
from bot.report import COMMENT_MARKER
from bot.server import create_app
from bot.settings import Settings, queue_path
from tests.bot.conftest import SECRET, headers, payload
from tests.standins.github_server import GitHubStandIn

ROOT = Path(__file__).resolve().parents[2]
CRASHING_CLI = [sys.executable, "-m", "tests.bot.crash_at_step"]
WORKER_STEPS = [
    "claimed",
    "check_posted",
    "check_created",
    "in_progress",
    "graded",
    "check_completed",
    "comment_created",
    "comment_posted",
]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPROBOT_")}
    env.update(
        PYTHONPATH=str(ROOT), REPROBOT_WEBHOOK_SECRET=SECRET, REPROBOT_GITHUB_TOKEN="test-token", **extra
    )
    return env


def _config(settings: Settings) -> Path:
    path = Path(settings.data_dir).parent / "reprobot.yaml"
    assert path.is_file()
    return path


@pytest.fixture
def crash_settings(make_settings: Any) -> Settings:
    return make_settings(bot={"lease_s": 0.5})


@pytest.mark.parametrize("step", WORKER_STEPS)
def test_worker_killed_after_any_step_resumes_and_posts_once(
    crash_settings: Settings, github: GitHubStandIn, step: str
) -> None:
    settings = crash_settings
    queue = JobQueue(queue_path(settings), lease_s=settings.bot.lease_s)
    # an earlier score comment exists already on the PR for the comment steps: it must be edited, not doubled
    body = json.dumps(payload("pull_request/opened")).encode()
    create_app(settings, queue).test_client().post(
        "/webhook", data=body, headers=headers("pull_request", body)
    )
    proc = subprocess.run(
        [*CRASHING_CLI, "--config", str(_config(settings)), "worker", "--once"],
        env=_env(REPROBOT_TEST_CRASH_AFTER=step),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == -9, proc.stderr[-2000:]
    time.sleep(settings.bot.lease_s + 0.1)  # the dead worker's lease runs out
    Worker(settings, queue, build_grader(settings), github_factory(settings), poll_s=0.05).run(once=True)
    [job] = queue.jobs()
    assert job.state == "posted", (job.state, job.message)
    assert len(github.check_runs) == 1, github.check_runs
    [run] = github.check_runs.values()
    assert run["status"] == "completed" and run["conclusion"] in ("success", "failure")
    comments = [c for c in github.comments.values() if COMMENT_MARKER in c["body"]]
    assert len(comments) == 1
    assert queue.comment_id(job.repo, job.pr) == comments[0]["id"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(settings: Settings, port: int, **env: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [*CRASHING_CLI, "--config", str(_config(settings)), "serve", "--port", str(port)],
        env=_env(**env),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except requests.ConnectionError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError(proc.communicate()[0])


@pytest.mark.parametrize("step,redelivery_status", [("received", 202), ("stored", 200)])
def test_server_killed_mid_request_then_redelivered_makes_one_job(
    settings: Settings, step: str, redelivery_status: int
) -> None:
    port = _free_port()
    proc = _serve(settings, port, REPROBOT_TEST_CRASH_AFTER=step)
    body = json.dumps(payload("pull_request/opened")).encode()
    h = headers("pull_request", body)
    try:
        with pytest.raises(requests.ConnectionError):
            requests.post(f"http://127.0.0.1:{port}/webhook", data=body, headers=h, timeout=10)
        assert proc.wait(timeout=10) == -9
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    queue = JobQueue(queue_path(settings))
    assert len(queue.jobs()) == (1 if step == "stored" else 0)
    # GitHub redelivers the same delivery id to the restarted server
    resp = create_app(settings, queue).test_client().post("/webhook", data=body, headers=h)
    assert resp.status_code == redelivery_status
    assert len(queue.jobs()) == 1 and len(queue.deliveries()) == 1


def test_serve_answers_and_config_shows_in_jobs_cli(settings: Settings) -> None:
    port = _free_port()
    proc = _serve(settings, port)
    try:
        body = json.dumps(payload("pull_request/opened")).encode()
        resp = requests.post(
            f"http://127.0.0.1:{port}/webhook", data=body, headers=headers("pull_request", body), timeout=10
        )
        assert resp.status_code == 202
    finally:
        proc.kill()
        proc.communicate()
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--config", str(_config(settings)), "jobs", "--json"],
        env=_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    [job] = json.loads(out.stdout)
    assert job["state"] == "queued" and job["repo"] == "Codertocat/Hello-World"
