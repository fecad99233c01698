"""Invariant: with every judge call failing, a push to the local forge is reproduced in the real
sandbox and its git note reads neutral / incomplete (judge unavailable), never failure; and
``reprobot grade`` on the same submission exits 3. The judge is the OpenAI stand-in on a real
socket, answering 503 to every call. The worker's report names the submitter and the commit
(``submission.json`` is written before any report is rendered)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.needs import DOCKER_REASON, docker_ready
from tests.standins.openai_server import Fault, OpenAIStandIn

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.docker, pytest.mark.slow]




@pytest.fixture
def outage() -> Iterator[OpenAIStandIn]:
    with OpenAIStandIn() as srv:
        srv.faults.extend(Fault("unavailable") for _ in range(100_000))
        yield srv


def _git(*args: str, cwd: Path) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "p", "GIT_AUTHOR_EMAIL": "p@example.invalid"}
    env |= {"GIT_COMMITTER_NAME": "p", "GIT_COMMITTER_EMAIL": "p@example.invalid"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


@pytest.mark.skipif(not docker_ready(), reason=DOCKER_REASON)
def test_forge_note_is_neutral_incomplete_when_the_judge_is_down(
    tmp_path: Path, outage: OpenAIStandIn
) -> None:
    config = tmp_path / "reprobot.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data_dir": str(tmp_path / "data"),
                "bot": {"max_attempts": 1, "judge_retry_s": 1.0, "judge_retry_backoff_s": 0.2},
                "judge": {"base_url": outage.base_url, "max_retries": 0, "timeout_s": 5.0},
            }
        )
    )
    env = {**os.environ, "GRADER_OPENAI_API_KEY": "sk-test-key"}
    reprobot = [str(ROOT / ".venv" / "bin" / "reprobot"), "--config", str(config)]
    subprocess.run([*reprobot, "forge", "init"], env=env, check=True, capture_output=True)
    forge = tmp_path / "data" / "forge.git"
    work = tmp_path / "work"
    _git("clone", "-q", f"file://{forge}", str(work), cwd=tmp_path)
    branch = "submit/tiny-moons/outage"
    _git("checkout", "-q", "-b", branch, "origin/paper/tiny-moons", cwd=work)
    shutil.copytree(ROOT / "examples" / "submissions" / "tiny-moons-good", work, dirs_exist_ok=True)
    _git("add", "-A", cwd=work)
    _git("commit", "-qm", "tiny-moons", cwd=work)
    _git("push", "-q", "origin", f"HEAD:refs/heads/{branch}", cwd=work)
    proc = subprocess.run(
        [*reprobot, "worker", "--once"], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    note = _git("--git-dir", str(forge), "log", "-1", "--notes=reprobot", "--format=%N", branch, cwd=tmp_path)
    assert "[neutral]" in note and "Incomplete: judge unavailable" in note, note
    assert "[failure]" not in note and outage.calls > 0

    head = _git("rev-parse", "HEAD", cwd=work).strip()
    # the job record exists before any report is rendered: the report names submitter and commit
    [report] = (tmp_path / "data" / "results").rglob("report.html")
    html = report.read_text()
    assert "submitter and commit unknown" not in html and "outage" in html and head[:7] in html
    graded = subprocess.run(
        [*reprobot, "grade", f"file://{forge}@{head}", "--paper", "tiny-moons", "--judge", "openai"]
        + ["--out", str(tmp_path / "grade-out")],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert graded.returncode == 3, graded.stdout[-2000:] + graded.stderr[-2000:]
    assert "incomplete: judge unavailable" in graded.stderr
