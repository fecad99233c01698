"""A worker killed during judging resumes from the last finished step: the executed submission the
run left (``metadata.json`` written last, ``submission/``) is kept and judged again, never deleted
and reproduced anew; a run that did not finish is redone. The worker is a real subprocess that
dies like ``kill -9`` right after the job entered its judging stage."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from bot.github.pygithub import github_factory
from bot.jobs.grade_job import result_folder
from bot.jobs.queue import JobQueue
from bot.jobs.worker import Worker, build_grader
from bot.results import finished_reproduction
from bot.settings import Settings, queue_path
from tests.bot.conftest import payload
from tests.bot.test_bot_crash_recovery import CRASHING_CLI, ROOT, _config, _env
from tests.bot.test_bot_worker import deliver
from tests.standins.github_server import GitHubStandIn


def _calls(settings: Settings) -> list[dict[str, Any]]:
    path = Path(settings.data_dir) / "fake_grader_calls.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_killed_while_judging_keeps_the_reproduction(make_settings: Any, github: GitHubStandIn) -> None:
    settings = make_settings(bot={"lease_s": 0.5})
    deliver(settings, "pull_request", payload("pull_request/opened"))
    proc = subprocess.run(
        [*CRASHING_CLI, "--config", str(_config(settings)), "worker", "--once"],
        env=_env(REPROBOT_TEST_CRASH_AFTER="stage_judging"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == -9, proc.stderr[-2000:]
    queue = JobQueue(queue_path(settings), lease_s=settings.bot.lease_s)
    [job] = queue.jobs()
    folder = result_folder(settings, job)
    assert finished_reproduction(folder)
    time.sleep(settings.bot.lease_s + 0.1)
    Worker(settings, queue, build_grader(settings), github_factory(settings), poll_s=0.05).run(once=True)
    [job] = queue.jobs()
    assert job.state == "posted", job.message
    first, second = _calls(settings)
    assert first["reuse"] == "" and Path(second["reuse"]) == folder  # judged again, not reproduced
    assert (folder / "submission.json").is_file() and (folder / "grade.json").is_file()


def test_an_unfinished_run_is_redone(tmp_path: Path) -> None:
    folder = tmp_path / "job1-g1"
    (folder / "submission").mkdir(parents=True)
    assert not finished_reproduction(folder)  # no metadata.json: the run did not end
    (folder / "metadata.json").write_text(json.dumps({"status": "infra_error"}))
    assert not finished_reproduction(folder)
