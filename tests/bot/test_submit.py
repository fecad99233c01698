"""``reprobot submit DIR --paper ID`` submits the way an agent's harness needs: on the local forge it
pushes DIR as ``submit/<paper>/<name>`` (the hook queues it), grades it with ``--work`` and prints the
score as the last line; the forge keeps a readable plain-text note (score, categories) and publishes the
leaderboard (mean ± SE over the submitter's three runs, CSV and JSON) on a branch. On GitHub it
pushes a new branch and opens the pull request against ``paper/<id>`` through the REST API (the
stand-in), and reads the grade back from the check run. A folder without reproduce.sh is refused."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from bot.cli import main
from bot.submit import check_run_result
from tests.bot.conftest import PAPER
from tests.standins.github_server import GitHubStandIn

ROOT = Path(__file__).resolve().parents[2]
GOOD = ROOT / "examples" / "submissions" / "tiny-moons-good"


def _git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def _config(tmp_path: Path, **extra: Any) -> Path:
    config = {
        "data_dir": str(tmp_path / "data"),
        "bot": {"grader": "tests.bot.fake_grader:FakeGrader", "worker_concurrency": 1, "retry_backoff_s": 0},
        **extra,
    }
    path = tmp_path / "reprobot.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_forge_submit_work_prints_the_score_and_publishes(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(ROOT)  # the hook runs `python -m bot.cli` from here
    cfg = _config(tmp_path, leaderboard={"publish": True, "branch": "leaderboard", "path": "board"})
    runner = CliRunner()
    assert runner.invoke(main, ["--config", str(cfg), "forge", "init"]).exit_code == 0
    args = ["--config", str(cfg), "submit", str(GOOD), "--paper", "tiny-moons", "--name", "agent-7", "--work"]
    for _ in range(3):
        r = runner.invoke(main, args)
        assert r.exit_code == 0, r.output
        lines = r.output.strip().splitlines()
        assert lines[0].startswith("submitted ") and "submit/tiny-moons/agent-7" in lines[0]
        score = float(lines[-1])
        assert 0.0 <= score <= 1.0 and lines[-3].startswith("graded: score")
    forge = tmp_path / "data" / "forge.git"
    branch = "submit/tiny-moons/agent-7"
    log = _git("--git-dir", str(forge), "log", "--notes=reprobot", "--format=%H%n%N", branch)
    assert _git("--git-dir", str(forge), "rev-list", "--count", branch).strip() == "4"
    # Issue 22: the note is plain text (score first, then each category), not the whole comment:
    # no Markdown headings, escapes or zero-width spaces.
    assert re.search(r"reprobot: \d+\.\d% · \d+/\d+ leaves · tiny-moons", log), log
    assert "Code Development" in log and "passed" in log
    assert "####" not in log and "\\" not in log and "\u200b" not in log and "|" not in log
    board = json.loads(_git("--git-dir", str(forge), "show", "leaderboard:board/leaderboard.json"))
    [row] = board["papers"]
    assert row["submitter"] == "agent-7" and row["runs"] == 3 and row["se"] is not None
    csv = _git("--git-dir", str(forge), "show", "leaderboard:board/leaderboard.csv")
    assert csv.splitlines()[1].startswith("full,paperbench,True,False,tiny-moons,1,agent-7,False,3,")
    md = _git("--git-dir", str(forge), "show", "leaderboard:board/README.md")
    assert "± 0.0" in md and "🧪 DUMMY" in md


def test_forge_submit_refuses_a_folder_without_reproduce_sh(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(ROOT)
    cfg = _config(tmp_path)
    runner = CliRunner()
    runner.invoke(main, ["--config", str(cfg), "forge", "init"])
    (tmp_path / "empty").mkdir()
    empty = str(tmp_path / "empty")
    r = runner.invoke(main, ["--config", str(cfg), "submit", empty, "--paper", "tiny-moons"])
    assert r.exit_code == 1 and "no reproduce.sh" in r.output and r.output.count("error") == 1


def test_github_submit_pushes_and_opens_the_pull_request(
    tmp_path: Path, github: GitHubStandIn, monkeypatch: Any
) -> None:
    remote = tmp_path / "bench.git"
    _git("init", "-q", "--bare", "--initial-branch=main", str(remote))
    seed = tmp_path / "seed"
    _git("clone", "-q", str(remote), str(seed))
    (seed / "README.md").write_text("paper branch\n")
    _git("-C", str(seed), "add", "-A")
    _git("-C", str(seed), "-c", "user.name=o", "-c", "user.email=o@x", "commit", "-qm", "base")
    _git("-C", str(seed), "push", "-q", "origin", f"HEAD:refs/heads/paper/{PAPER}")
    cfg = _config(tmp_path, github={"api_base_url": github.base_url})
    monkeypatch.setenv("REPROBOT_GITHUB_TOKEN", "test-token")
    r = CliRunner().invoke(
        main,
        ["--config", str(cfg), "submit", str(GOOD), "--paper", PAPER, "--name", "agent-7",
         "--github", "org/bench", "--remote", remote.as_uri()],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    [(key, pull)] = github.pulls.items()
    assert key == ("org/bench", 1) and pull["base"]["ref"] == f"paper/{PAPER}"
    branch = pull["head"]["ref"]
    assert branch.startswith(f"reprobot/{PAPER}/agent-7-") and pull["html_url"] in r.output
    sha = _git("--git-dir", str(remote), "rev-parse", branch).strip()
    assert sha[:12] in r.output
    assert "train.py" in _git("--git-dir", str(remote), "ls-tree", "--name-only", branch)
    assert _git("--git-dir", str(remote), "merge-base", branch, f"paper/{PAPER}").strip()  # shares history

    from github import Auth, Github

    gh = Github(auth=Auth.Token("test-token"), base_url=github.base_url, lazy=True)
    assert check_run_result(gh, "org/bench", sha, "reprobot") is None  # not graded yet
    github.check_runs[1] = {
        "id": 1, "name": "reprobot", "head_sha": sha, "status": "completed", "conclusion": "success",
        "external_id": "x", "details_url": None, "output": {"title": "45.0% · 13/29 leaves · tiny-moons"},
        "annotations": [], "url": "u", "repo": "org/bench", "history": [], "started_at": None,
        "completed_at": None,
    }  # fmt: skip
    result = check_run_result(gh, "org/bench", sha, "reprobot")
    assert result is not None and result.state == "graded" and result.score == 0.45
    github.check_runs[1]["output"] = {"title": "Score 45.0% · coverage 100.0% · full"}  # an older bot's title
    result = check_run_result(gh, "org/bench", sha, "reprobot")
    assert result is not None and result.score == 0.45


def test_forge_submit_wait_without_a_worker_times_out_clearly(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(ROOT)
    cfg = _config(tmp_path)
    runner = CliRunner()
    runner.invoke(main, ["--config", str(cfg), "forge", "init"])
    args = ["--config", str(cfg), "submit", str(GOOD), "--paper", "tiny-moons", "--name", "a", "--wait"]
    r = runner.invoke(main, [*args, "--timeout", "0"])
    assert r.exit_code == 1 and "no result after 0 s" in r.output
    assert "no worker is running for this queue" in r.output  # said at once, not after the wait
    monkeypatch.setattr("bot.cli.submit_cmds.NO_WORKER_GRACE_S", 0.0)
    r = runner.invoke(main, [*args, "--name", "b", "--timeout", "3600"])
    assert r.exit_code == 1 and "no worker picked it up within 0 s" in r.output and "--work" in r.output
    r = runner.invoke(main, [*args, "--github", "org/bench", "--work"])
    assert r.exit_code == 2 and "--work grades on the local forge" in r.output
