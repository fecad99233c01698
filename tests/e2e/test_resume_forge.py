"""Invariant: a worker killed (``kill -9``) while judging a push to the local forge resumes from the
last finished step: the next worker judges the executed submission the real sandbox left, without
reproducing it again (``metadata.json``, which the runner writes last, is untouched), and the
git note carries a real grade. The judge is the OpenAI stand-in on a real socket."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.e2e.test_judge_outage_forge import _git
from tests.needs import DOCKER_REASON, docker_ready
from tests.standins.openai_server import OpenAIStandIn

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture
def judge() -> Iterator[OpenAIStandIn]:
    with OpenAIStandIn() as srv:
        yield srv


@pytest.mark.skipif(not docker_ready(), reason=DOCKER_REASON)
def test_killed_while_judging_resumes_without_reproducing_again(tmp_path: Path, judge: OpenAIStandIn) -> None:
    config = tmp_path / "reprobot.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data_dir": str(tmp_path / "data"),
                "bot": {"lease_s": 1.0},
                "judge": {"base_url": judge.base_url, "max_retries": 0, "timeout_s": 10.0},
            }
        )
    )
    env = {**os.environ, "GRADER_OPENAI_API_KEY": "sk-test-key", "PYTHONPATH": str(ROOT)}
    reprobot = [str(ROOT / ".venv" / "bin" / "reprobot"), "--config", str(config)]
    subprocess.run([*reprobot, "forge", "init"], env=env, check=True, capture_output=True)
    forge = tmp_path / "data" / "forge.git"
    work = tmp_path / "work"
    _git("clone", "-q", f"file://{forge}", str(work), cwd=tmp_path)
    branch = "submit/tiny-moons/resumed"
    _git("checkout", "-q", "-b", branch, "origin/paper/tiny-moons", cwd=work)
    shutil.copytree(ROOT / "examples" / "submissions" / "tiny-moons-good", work, dirs_exist_ok=True)
    _git("add", "-A", cwd=work)
    _git("commit", "-qm", "tiny-moons", cwd=work)
    _git("push", "-q", "origin", f"HEAD:refs/heads/{branch}", cwd=work)

    crashing = [sys.executable, "-m", "tests.bot.crash_at_step", "--config", str(config), "worker", "--once"]
    proc = subprocess.run(
        crashing, env={**env, "REPROBOT_TEST_CRASH_AFTER": "stage_judging"}, cwd=ROOT,
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == -9, proc.stderr[-3000:]
    found = (tmp_path / "data" / "results").rglob("metadata.json")
    [metadata] = [m for m in found if "attempts" not in m.relative_to(tmp_path).parts]  # the graded run
    ran = metadata.read_text()
    assert json.loads(ran)["status"] == "completed" and (metadata.parent / "submission").is_dir()
    assert judge.calls == 0

    time.sleep(1.2)  # the killed worker's lease runs out
    proc = subprocess.run(
        [*reprobot, "worker", "--once"], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert metadata.read_text() == ran  # not reproduced again
    assert "starting the container" not in proc.stderr and judge.calls > 0
    note = _git("--git-dir", str(forge), "log", "-1", "--notes=reprobot", "--format=%N", branch, cwd=tmp_path)
    assert re.match(r"reprobot: \d+\.\d% · \d+/29 leaves · tiny-moons", note), note  # the score first
    assert "[success]" in note or "[failure]" in note, note
