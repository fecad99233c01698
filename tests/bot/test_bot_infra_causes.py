"""Every infrastructure cause is an ``infra_error`` (retried, neutral, exit 3), never the
submitter's failure: the network failing during the clone (refused connection, a dropped
connection, a host that does not resolve) and a Docker engine that cannot be reached, driven
through the real ``git`` and the real Docker client; ``reprobot grade`` exits 3 for each."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from tests.judge.fixtures import make_paper


@pytest.fixture
def dropping_server() -> Iterator[str]:
    """Accepts TCP connections and drops them at once: the network failing under the clone."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    yield f"https://127.0.0.1:{listener.getsockname()[1]}/owner/repo.git"
    listener.close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _grade(tmp_path: Path, submission: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    paper = make_paper(tmp_path)
    config = tmp_path / "reprobot.yaml"
    config.write_text(f"data_dir: {tmp_path / 'data'}\n")
    args = ["--config", str(config), "grade", submission, "--paper", str(paper.folder), "--judge", "dummy"]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "out")], env=env)
    return result.exit_code, result.stderr


def test_a_refused_connection_during_the_clone_is_infra(tmp_path: Path) -> None:
    code, err = _grade(tmp_path, f"https://127.0.0.1:{_closed_port()}/owner/repo.git@{'a' * 40}")
    assert code == 3 and "infra_error" in err and "network" in err, err


def test_a_connection_dropped_during_the_clone_is_infra(tmp_path: Path, dropping_server: str) -> None:
    code, err = _grade(tmp_path, f"{dropping_server}@{'a' * 40}")
    assert code == 3 and "infra_error" in err and "network" in err, err


def test_a_host_that_does_not_resolve_is_infra(tmp_path: Path) -> None:
    code, err = _grade(tmp_path, f"https://git.reprobot-test.invalid/owner/repo.git@{'a' * 40}")
    assert code == 3 and "infra_error" in err, err


def test_a_missing_repository_is_still_the_submitters_problem(tmp_path: Path) -> None:
    code, err = _grade(tmp_path, f"file://{tmp_path / 'nothing-here.git'}@{'a' * 40}")
    assert code == 1 and "rejected" in err, err


def test_an_unreachable_docker_engine_is_infra(tmp_path: Path) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "reproduce.sh").write_text("#!/bin/bash\necho hi\n")
    code, err = _grade(tmp_path, str(sub), env={"DOCKER_HOST": f"unix://{tmp_path / 'no-engine.sock'}"})
    assert code == 3 and "infra_error" in err, err
