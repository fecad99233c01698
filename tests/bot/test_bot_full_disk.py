"""A full disk under the queue never kills the worker silently: the worker loop logs and backs off
(with ``--once`` it gives up with WorkerTrouble, the CLI's exit 3), ``/healthz`` answers 503 naming
the disk, and once space is back the queued job is graded as if nothing happened.

The disk is real: a 2 MB tmpfs mounted for the test (root only; skipped where mounting is refused).
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.github.pygithub import github_factory
from bot.jobs.queue import JobQueue
from bot.jobs.worker import Worker, WorkerTrouble, build_grader
from bot.server import create_app
from bot.settings import Settings, load_settings, queue_path
from tests.bot.conftest import SECRET, headers, payload


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode(errors='replace').strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _fill(folder: Path) -> Path:
    """Write until the disk says ENOSPC; the file that fills it."""
    filler = folder / "filler"
    chunk = b"\0" * 65536
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(chunk)
                f.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def test_full_disk_backs_off_reports_unhealthy_then_recovers(
    tiny_disk: Path, make_settings: Callable[..., Settings]
) -> None:
    base = make_settings(bot={"min_free_disk_mb": 0.5})
    config = Path(base.data_dir).parent / "reprobot.yaml"
    data: dict[str, Any] = yaml.safe_load(config.read_text())
    data["data_dir"] = str(tiny_disk / "data")
    config.write_text(yaml.safe_dump(data))
    settings = load_settings(
        config, {"REPROBOT_WEBHOOK_SECRET": SECRET, "REPROBOT_GITHUB_TOKEN": "test-token"}
    )
    queue = JobQueue(queue_path(settings), lease_s=settings.bot.lease_s)
    app = create_app(settings, queue)
    body = json.dumps(payload("pull_request/opened")).encode()
    assert (
        app.test_client().post("/webhook", data=body, headers=headers("pull_request", body)).status_code
        == 202
    )

    filler = _fill(tiny_disk)
    health = app.test_client().get("/healthz")
    assert health.status_code == 503 and "disk" in health.get_data(as_text=True)
    worker = Worker(settings, queue, build_grader(settings), github_factory(settings), poll_s=0.01)
    with pytest.raises(WorkerTrouble):  # --once: gives up after backing off, never "processed 0 job(s)"
        worker.run(once=True)
    assert queue.jobs()[0].state == "queued"  # nothing lost

    filler.unlink()  # space is back
    assert app.test_client().get("/healthz").status_code == 200
    worker = Worker(settings, queue, build_grader(settings), github_factory(settings), poll_s=0.01)
    assert worker.run(once=True) >= 1
    assert queue.jobs()[0].state == "posted"
