"""Small edges at the command line: ``serve`` on a port in use says one line and exits 1 (no
traceback); a ``worker`` grading with the dummy judge says so once, loudly, at start; ``grade
--judge openai`` without a key fails before any reproduction (here: before the Docker engine,
which is unreachable, is even asked)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from bot.cli import main
from tests.judge.fixtures import make_paper

ROOT = Path(__file__).resolve().parents[2]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REPROBOT_", "OPENAI", "GRADER_"))}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


def test_serve_on_a_port_in_use_is_one_line_and_exit_1(tmp_path: Path) -> None:
    config = tmp_path / "reprobot.yaml"
    config.write_text(f"data_dir: {tmp_path / 'data'}\n")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "bot.cli", "--config", str(config), "serve", "--port", str(port)],
            env=_env(REPROBOT_WEBHOOK_SECRET="s"),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 1, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "listening on" not in line]
    assert len(errors) == 1 and f"cannot listen on 127.0.0.1:{port}" in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_worker_with_the_dummy_judge_says_so_once_at_start(tmp_path: Path) -> None:
    config = tmp_path / "reprobot.yaml"
    config.write_text(f"data_dir: {tmp_path / 'data'}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--config", str(config), "worker", "--once"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("caveat: dummy judge") == 1 and "WARNING" in proc.stderr
    assert proc.stderr.index("caveat: dummy judge") < proc.stderr.index("processed 0 job(s)")


def test_grade_with_openai_and_no_key_fails_before_reproducing(tmp_path: Path) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "reproduce.sh").write_text("#!/bin/bash\necho hi\n")
    config = tmp_path / "reprobot.yaml"
    config.write_text(f"data_dir: {tmp_path / 'data'}\n")
    paper = make_paper(tmp_path)
    args = ["--config", str(config), "grade", str(sub), "--paper", str(paper.folder)]
    env = {
        "DOCKER_HOST": f"unix://{tmp_path / 'no-engine.sock'}",
        "OPENAI_API_KEY": "",
        "GRADER_OPENAI_API_KEY": "",
    }
    result = CliRunner().invoke(main, [*args, "--judge", "openai", "--out", str(tmp_path / "out")], env=env)
    assert result.exit_code != 0
    assert "key" in result.stderr.lower() and "docker" not in result.stderr.lower(), result.stderr
    assert not (tmp_path / "out" / "reproduce.log").exists()


def test_a_worker_whose_queue_cannot_be_opened_exits_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "a-folder.sqlite3").mkdir()  # the queue path is a folder: fatal misconfiguration
    config = tmp_path / "reprobot.yaml"
    config.write_text(f"data_dir: {tmp_path / 'data'}\nbot:\n  queue_path: a-folder.sqlite3\n")
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--config", str(config), "worker", "--once"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and "cannot open the queue" in lines[0], proc.stderr
