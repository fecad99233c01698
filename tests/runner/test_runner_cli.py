"""The runner's commands keep their documented names, outputs and exit codes: `blacklist check`
(exit 1 only with policy fail and violations; blacklist.json format), `reproduce` (fetches folders,
tarballs and git URLs; grants only --env-file variables), `image build` (no-op when up to date).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.cli.runner_cmds import parse_env_file
from bot.errors import ConfigError

APT = "https://github.com/ROIM1998/APT"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_blacklist_check_policies(tmp_path: Path) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "reproduce.sh").write_text(f"git clone {APT}.git\n")
    log = tmp_path / "reproduce.log"
    log.write_text(f"+ git clone {APT}.git\nCloning into 'APT'...\n")
    code, out = run("blacklist", "check", "--paper", "adaptive-pruning", str(sub))
    assert code == 0 and "reproduce.sh:1:" in out and "violations reported" in out
    code, out = run("blacklist", "check", "--paper", "adaptive-pruning", "--policy", "fail", str(sub))
    assert code == 1 and "blocked" in out
    report = tmp_path / "blacklist.json"
    code, out = run(
        "blacklist",
        "check",
        "--paper",
        "adaptive-pruning",
        "--log",
        str(log),
        "--json",
        "--out",
        str(report),
        str(sub),
    )
    data = json.loads(report.read_text())
    assert code == 0 and json.loads(out) == data
    assert data["policy"] == "report" and data["blocked"] is False and data["blacklist"] == [APT]
    assert [v["source"] for v in data["violations"]] == ["submission", "reproduce.log"]
    code, out = run("blacklist", "check", "--paper", "self-expansion", "--policy", "fail", str(sub))
    assert code == 0 and "0 violation(s) of 0" in out
    code, out = run("blacklist", "check", "--paper", "no-such-paper", str(sub))
    assert code == 1
    clean = tmp_path / "clean"
    clean.mkdir()
    agent = tmp_path / "agent.log"
    agent.write_text(f"I will now run\ngit clone {APT}\n")
    code, out = run(
        "blacklist", "check", "--paper", "adaptive-pruning", "--agent-log", str(agent), str(clean)
    )
    assert code == 0 and "[paperbench] agent.log:agent.log:2:" in out and "[reprobot] agent.log" in out
    code, out = run(
        "blacklist",
        "check",
        "--paper",
        "adaptive-pruning",
        "--agent-log",
        str(agent),
        "--policy",
        "fail",
        str(clean),
    )
    assert code == 1 and "score 0 (PaperBench's monitor)" in out


def test_env_file_parsing(tmp_path: Path) -> None:
    f = tmp_path / "agent.env"
    f.write_text("# resources\nHF_TOKEN=abc\nexport WANDB_API_KEY='x y'\n\nEMPTY=\n")
    assert parse_env_file(f) == {"HF_TOKEN": "abc", "WANDB_API_KEY": "x y", "EMPTY": ""}
    f.write_text("not a pair\n")
    with pytest.raises(ConfigError, match=":1:"):
        parse_env_file(f)


@pytest.mark.docker
def test_reproduce_command_from_a_git_url(tmp_path: Path, repro_image: str) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "reproduce.sh").write_text('echo "token=${HF_TOKEN:-missing}" > got.txt\nexit 3\n')
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
    }
    for cmd in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-qm", "c"]):
        subprocess.run(["git", *cmd], cwd=work, env=env, check=True)
    envfile = tmp_path / "agent.env"
    envfile.write_text("HF_TOKEN=granted\n")
    out = tmp_path / "out"
    code, text = run(
        "reproduce",
        f"file://{work}@main",
        "--out",
        str(out),
        "--network",
        "none",
        "--memory",
        "128m",
        "--timeout",
        "30",
        "--env-file",
        str(envfile),
        "--image",
        repro_image,
    )
    assert code == 0, text
    assert "exit_code=3" in text
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["exit_code"] == 3 and meta["submission_ref"].startswith(f"file://{work}@main#")
    assert (out / "submission" / "got.txt").read_text() == "token=granted\n"
    assert not (out / "submission" / ".git").exists()
    code, text = run("image", "build", "--image", repro_image)
    assert code == 0 and "up to date" in text
