"""Invariant: the local forge is a real bare git repository with one paper/<id> branch per paper;
only pushed submit/<paper>/<name> branches become submissions; scores land as git notes that
`git log --notes=reprobot` shows."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bot.forge.repo import ZERO_SHA, LocalForge, parse_post_receive


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def test_init_is_idempotent_and_clonable(tmp_path: Path) -> None:
    forge = LocalForge(tmp_path / "forge.git")
    assert forge.init(["tiny-moons", "bam"]) == ["paper/tiny-moons", "paper/bam"]
    assert forge.init(["tiny-moons", "fre"]) == ["paper/fre"]
    assert (forge.path / "hooks" / "post-receive").stat().st_mode & 0o111
    git("clone", "-q", forge.url, "clone", cwd=tmp_path)
    branches = git("branch", "-r", cwd=tmp_path / "clone")
    assert "origin/paper/tiny-moons" in branches and "origin/paper/fre" in branches
    assert (tmp_path / "clone" / "README.md").is_file()


def test_parse_post_receive_keeps_only_submission_pushes() -> None:
    sha = "a" * 40
    lines = [
        f"{ZERO_SHA} {sha} refs/heads/submit/tiny-moons/alice",
        f"{sha} {ZERO_SHA} refs/heads/submit/tiny-moons/alice",  # deletion
        f"{ZERO_SHA} {sha} refs/heads/paper/tiny-moons",  # not a submission
        f"{ZERO_SHA} {sha} refs/heads/submit/../etc/x",  # hostile paper id
        "garbage",
    ]
    pushed = list(parse_post_receive(lines))
    assert [(p.paper_id, p.branch, p.sha) for p in pushed] == [("tiny-moons", "submit/tiny-moons/alice", sha)]


def test_notes_show_in_git_log(tmp_path: Path) -> None:
    forge = LocalForge(tmp_path / "forge.git")
    forge.init(["tiny-moons"])
    sha = git("rev-parse", "paper/tiny-moons", cwd=forge.path).strip()
    forge.add_note(sha, "reprobot: score 0.75 (coverage 100%)")
    forge.add_note(sha, "reprobot: score 0.80 (coverage 100%)")  # replaced, not appended
    assert forge.note(sha) == "reprobot: score 0.80 (coverage 100%)\n"
    log = git("log", "--notes=reprobot", "-1", sha, cwd=forge.path)
    assert "score 0.80" in log and "0.75" not in log
    assert forge.submission_ref(sha) == f"file://{forge.path}@{sha}"
