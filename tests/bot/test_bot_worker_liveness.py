"""The worker never dies silently: a queue database locked past its busy timeout is logged, backed
off and retried while the loop keeps serving (the job queued meanwhile is processed once the lock
goes); with ``--once`` persistent trouble is an error (exit 3), never "processed N job(s)" and 0.
``/healthz`` reports worker liveness from the workers' beat files and disk trouble (503)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from bot.github.pygithub import github_factory
from bot.jobs.liveness import WorkerBeat, workers_dir, write_beat
from bot.jobs.queue import JobQueue
from bot.jobs.worker import Worker, WorkerTrouble, build_grader
from bot.server import create_app
from bot.settings import Settings, queue_path
from tests.bot.conftest import payload
from tests.bot.test_bot_worker import deliver
from tests.standins.github_server import GitHubStandIn


def _lock(settings: Settings) -> sqlite3.Connection:
    """Another process's writer holding the database: every other writer is 'database is locked'."""
    conn = sqlite3.connect(queue_path(settings), isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    return conn


def _health(settings: Settings) -> tuple[int, dict[str, Any]]:
    resp = create_app(settings, JobQueue(queue_path(settings))).test_client().get("/healthz")
    return resp.status_code, json.loads(resp.data)


def test_a_locked_queue_is_backed_off_and_the_worker_keeps_serving(
    settings: Settings, github: GitHubStandIn
) -> None:
    deliver(settings, "pull_request", payload("pull_request/opened"))
    queue = JobQueue(queue_path(settings), lease_s=settings.bot.lease_s, busy_timeout_s=0.05)
    worker = Worker(
        settings, queue, build_grader(settings), github_factory(settings), poll_s=0.02, beat_s=0.05
    )
    lock = _lock(settings)
    runner = threading.Thread(target=worker.run, daemon=True)
    runner.start()
    time.sleep(1.0)
    code, body = _health(settings)
    assert runner.is_alive()
    [beat] = body["workers"]
    assert beat["state"] == "backing off" and "locked" in beat["error"] and body["worker_alive"]
    lock.execute("ROLLBACK")
    lock.close()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and queue.jobs()[0].state != "posted":
        time.sleep(0.1)
    assert queue.jobs()[0].state == "posted"
    assert runner.is_alive()  # still serving
    worker.stop()
    runner.join(5)
    code, body = _health(settings)
    assert body["worker_alive"] is False and body["status"] == "degraded" and code == 200


def test_once_with_a_queue_that_stays_locked_is_an_error(settings: Settings, github: GitHubStandIn) -> None:
    deliver(settings, "pull_request", payload("pull_request/opened"))
    queue = JobQueue(queue_path(settings), busy_timeout_s=0.02)
    worker = Worker(settings, queue, build_grader(settings), github_factory(settings), poll_s=0.01)
    lock = _lock(settings)
    try:
        with pytest.raises(WorkerTrouble, match="queue is unavailable") as caught:
            worker.run(once=True)
        assert caught.value.exit_code == 3
    finally:
        lock.execute("ROLLBACK")
        lock.close()


def test_healthz_reports_liveness_and_disk_trouble(make_settings: Any, tmp_path: Path) -> None:
    settings = make_settings()
    write_beat(workers_dir(settings.data_dir), WorkerBeat("w1", 1, "serving", time.time()))
    code, body = _health(settings)
    assert code == 200 and body["status"] == "ok" and body["worker_alive"] is True
    write_beat(workers_dir(settings.data_dir), WorkerBeat("w1", 1, "serving", time.time() - 3600))
    code, body = _health(settings)
    assert code == 200 and body["status"] == "degraded" and body["worker_alive"] is False
    full = make_settings(bot={"min_free_disk_mb": 1e12})  # more than any disk holds: "full"
    code, body = _health(full)
    assert code == 503 and body["status"] == "error" and body["problems"][0].startswith("disk:")
    assert body["disk"]["ok"] is False
