"""Invariant: ``reprobot submit`` submits the worked example through the local forge, grades it in
the real sandbox (``--work``; the dummy judge here, and every output says so) and prints its score
as the last line, the good submission above the weak one; the served report of each run links its
log and shows, for every leaf, its evidence or that it cited none."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.needs import DOCKER_REASON, docker_ready

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.docker,
    pytest.mark.slow,
    pytest.mark.skipif(not docker_ready(), reason=DOCKER_REASON),
]


def test_submit_prints_the_score(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "GRADER_OPENAI_API_KEY")}
    cfg = tmp_path / "reprobot.yaml"
    cfg.write_text(yaml.safe_dump({"data_dir": str(tmp_path / "data")}))
    reprobot = [str(ROOT / ".venv" / "bin" / "reprobot"), "--config", str(cfg)]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*reprobot, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=600, check=False)  # fmt: skip

    assert run("forge", "init").returncode == 0
    scores = {}
    for kind in ("good", "weak"):
        proc = run("submit", f"examples/submissions/tiny-moons-{kind}", "--paper", "tiny-moons",
                   "--name", f"{kind}-agent", "--work")  # fmt: skip
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        lines = proc.stdout.strip().splitlines()
        assert "dummy judge" in proc.stdout.lower()
        scores[kind] = float(lines[-1])
        report = Path(next(line for line in lines if line.startswith("report: "))[8:])
        html = report.read_text(encoding="utf-8")
        leaves = html.count('class="node leaf"')
        assert leaves == 29
        assert html.count('class="no-evidence"') + html.count('class="evidence-block"') == leaves
        assert 'href="reproduce.log" download' in html
    assert scores["weak"] < scores["good"]
