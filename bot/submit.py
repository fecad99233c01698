"""One command to submit (``reprobot submit DIR --paper ID``), for an agent's harness.

DIR's files (its ``.git`` aside) become one commit on top of the paper's branch, pushed as a new
submission branch: ``submit/<paper>/<name>`` on the local forge (its post-receive hook queues the
grade), or ``reprobot/<paper>/<name>-<time>`` on GitHub with a token, where a pull request is then
opened against ``paper/<paper>``. Waiting reads the outcome where a person would: the forge job's
state in the queue, or the check run on GitHub.
"""

from __future__ import annotations

import base64
import getpass
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.errors import BotError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
IGNORED = (".git", "venv", ".venv", "__pycache__")


class SubmitError(BotError):
    """The submission could not be pushed or opened (bad folder, git or GitHub refused)."""


@dataclass(frozen=True, slots=True)
class Submitted:
    branch: str
    sha: str
    pr_url: str | None = None
    pr_number: int | None = None


@dataclass(frozen=True, slots=True)
class Result:
    state: str  # graded | rejected | infra_error | cancelled
    score: float | None
    title: str
    details: str = ""


def _git(*args: str, cwd: Path, auth: str | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    who = {"NAME": "reprobot submit", "EMAIL": "submit@reprobot.invalid"}
    env.update({f"GIT_{role}_{k}": v for role in ("AUTHOR", "COMMITTER") for k, v in who.items()})
    env["GIT_TERMINAL_PROMPT"] = "0"
    extra = ["-c", f"http.extraheader=AUTHORIZATION: basic {auth}"] if auth else []
    proc = subprocess.run(
        ["git", "-c", "core.hooksPath=/dev/null", *extra, *args],
        cwd=cwd, capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        msg = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise SubmitError(f"git {args[0]} failed: {msg}")
    return proc.stdout


def check_folder(folder: Path) -> None:
    if not folder.is_dir():
        raise SubmitError(f"{folder}: not a folder")
    if not (folder / "reproduce.sh").is_file():
        raise SubmitError(f"{folder}: no reproduce.sh at its root (PaperBench runs `bash reproduce.sh`)")


def default_submitter(folder: Path) -> str:
    """The submitter name when none is given: git's ``user.name`` (as seen from FOLDER), made a
    valid branch word; else the login name."""
    try:
        done = subprocess.run(
            ["git", "config", "--get", "user.name"], cwd=folder, capture_output=True, text=True, check=False
        )
        configured = done.stdout.strip() if done.returncode == 0 else ""
    except OSError:
        configured = ""
    word = re.sub(r"[^A-Za-z0-9._-]+", "-", configured).strip("-._")[:64]
    return word if word and NAME_RE.match(word) else getpass.getuser()


def check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise SubmitError(f"submitter name {name!r}: use letters, digits, '.', '_' or '-' (at most 64)")
    return name


def _copy_tree(src: Path, dest: Path) -> None:
    for item in src.iterdir():
        if item.name in IGNORED or item.is_symlink() and not item.resolve().is_relative_to(src.resolve()):
            continue
        target = dest / item.name
        if item.is_dir() and not item.is_symlink():
            shutil.copytree(item, target, symlinks=True, ignore=shutil.ignore_patterns(*IGNORED))
        else:
            shutil.copy2(item, target, follow_symlinks=False)


def push_folder(
    folder: Path, remote: str, base: str, branch: str, message: str, *, auth: str | None = None
) -> str:
    """Commit ``folder`` on top of ``base`` (or of ``branch`` if it exists) and push it to ``branch``."""
    check_folder(folder)
    with tempfile.TemporaryDirectory(prefix="reprobot-submit-") as tmp:
        work = Path(tmp)
        _git("init", "-q", "--initial-branch=submission", str(work), cwd=work)
        try:
            _git("fetch", "-q", "--depth", "1", remote, f"refs/heads/{branch}", cwd=work, auth=auth)
        except SubmitError:
            _git("fetch", "-q", "--depth", "1", remote, f"refs/heads/{base}", cwd=work, auth=auth)
        _git("reset", "-q", "--hard", "FETCH_HEAD", cwd=work)
        for item in work.iterdir():
            if item.name != ".git":
                shutil.rmtree(item) if item.is_dir() and not item.is_symlink() else item.unlink()
        _copy_tree(folder, work)
        _git("add", "-A", cwd=work)
        _git("commit", "-q", "--allow-empty", "-m", message, cwd=work)
        sha = _git("rev-parse", "HEAD", cwd=work).strip()
        _git("push", "-q", remote, f"HEAD:refs/heads/{branch}", cwd=work, auth=auth)
    return sha


def basic_auth(token: str) -> str:
    return base64.b64encode(f"x-access-token:{token}".encode()).decode()


def web_url(api_base_url: str) -> str:
    """https://github.com for api.github.com; https://HOST for GitHub Enterprise's HOST/api/v3."""
    base = api_base_url.rstrip("/")
    if base == "https://api.github.com":
        return "https://github.com"
    return re.sub(r"/api/v3$", "", base)


def open_pull(gh: Any, repo: str, base: str, head: str, title: str, body: str) -> tuple[int, str]:
    from github import GithubException

    try:
        pull = gh.get_repo(repo).create_pull(base=base, head=head, title=title, body=body)
    except GithubException as exc:
        raise SubmitError(f"GitHub refused the pull request ({exc.status}): {str(exc)[:200]}") from None
    return int(pull.number), str(pull.html_url)


def wait_for(poll: Callable[[], Result | None], timeout_s: float, every_s: float = 2.0) -> Result:
    deadline = time.monotonic() + timeout_s
    while True:
        result = poll()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise SubmitError(f"no result after {timeout_s:.0f} s (the grade may still come; check later)")
        time.sleep(every_s)


# the check's title starts with the score ("42.0% · 151/361 leaves · tiny-moons"); older titles said
# "Score 42.0% · ..."
SCORE_RE = re.compile(r"^(?:Score )?(\d+(?:\.\d+)?)% · ")


def check_run_result(gh: Any, repo: str, sha: str, check_name: str) -> Result | None:
    """The completed reprobot check run of ``sha`` as a Result, or None while there is none."""
    repository = gh.get_repo(repo)
    _, data = repository._requester.requestJsonAndCheck(
        "GET", f"{repository.url}/commits/{sha}/check-runs", parameters={"check_name": check_name}
    )
    for run in data.get("check_runs", []):
        if run.get("status") != "completed":
            continue
        output = run.get("output") or {}
        title = str(output.get("title") or "")
        m = SCORE_RE.search(title)
        state = {"success": "graded", "failure": "graded" if m else "rejected"}.get(
            str(run.get("conclusion")), "infra_error"
        )
        score = float(m.group(1)) / 100 if m else None
        return Result(state, score, title, str(run.get("html_url") or ""))
    return None
