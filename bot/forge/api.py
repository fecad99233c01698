"""The local forge behind the same ``GitHubAPI`` seam the worker uses for GitHub.

After the queue, a forge job takes exactly the GitHub path: a "check run" whose stages are shown
live on the terminal and whose completion becomes a git note (``refs/notes/reprobot``) on the
submitted commit, in plain text (the check's digest: score, categories, link), and "PR comments"
kept as Markdown files, ``comments/pr<N>/<id>.md``, where N is the submission branch's PR number
(1, 2, 3, ... in the order branches were first pushed, as the forge numbers them). State lives in
one small JSON file so a crashed worker finds its check run and comment again (idempotent posting).
"""

from __future__ import annotations

import fcntl
import json
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from bot.forge.repo import LocalForge, PushedSubmission, RefMoved
from bot.github.api import CheckRunOutput, GitHubAPI, GitHubFactory, PublishConflict
from bot.intake.actions import JobInfo, NewGrade, NewNotice
from bot.jobs.quota import normalised_name
from bot.settings import Settings, forge_path

NOT_SUPPORTED = "not available in the local forge (use GitHub mode for GPU-runner dispatch)"


def forge_submitter_key(name: str, identity: str | None = None) -> str:
    """Who the quota charges for a push: the pusher's identity when the organizer binds pushes to
    one (``forge.identity_env``), else the branch's name normalised (``alice_`` is ``Alice``)."""
    if identity:
        return f"forge-id:{identity}"
    return f"forge:{normalised_name(name) or name}"


def forge_notice_action(
    forge: LocalForge, repo: str, pushed: PushedSubmission, title: str, message: str, conclusion: str
) -> NewNotice:
    """A push that cannot be graded as it stands (a paper without paper.md): a completed check run
    (a git note on the commit), never a queued grade."""
    return NewNotice(repo, forge.pr_number(pushed.branch), pushed.sha, title, message, conclusion)


def forge_grade_action(
    forge: LocalForge, repo: str, pushed: PushedSubmission, rubric_version: str, identity: str | None = None
) -> NewGrade:
    submitter = pushed.branch.split("/", 2)[-1]
    info = JobInfo(
        clone_url=forge.url,
        head_ref=pushed.branch,
        submitter=submitter,
        submitter_key=forge_submitter_key(submitter, identity),
        base_ref=f"paper/{pushed.paper_id}",
    )
    return NewGrade(
        repo, forge.pr_number(pushed.branch), pushed.sha, pushed.paper_id, rubric_version, "full", None, info
    )


class ForgeAPI:
    def __init__(
        self, forge: LocalForge, state_dir: Path, *, echo: Callable[[str], None] | None = None
    ) -> None:
        self.forge = forge
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.state_path = self.state_dir / "forge-state.json"
        self.echo = echo or _stderr

    @contextmanager
    def _state(self) -> Iterator[dict[str, Any]]:
        with open(self.state_dir / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                state = json.loads(self.state_path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                state = {"next_id": 1, "checks": {}, "comments": {}}
            yield state
            tmp = self.state_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(state, indent=1), encoding="utf-8")
            tmp.replace(self.state_path)

    # ---------------------------------------------------------------------------- check runs

    def create_check_run(
        self,
        repo: str,
        *,
        name: str,
        head_sha: str,
        external_id: str,
        status: str,
        output: CheckRunOutput | None = None,
        conclusion: str | None = None,
        details_url: str | None = None,
    ) -> int:
        out = output.to_json() if output else {}
        with self._state() as state:
            cid = int(state["next_id"])
            state["next_id"] = cid + 1
            check = state["checks"][str(cid)] = {
                "name": name, "head_sha": head_sha, "external_id": external_id, "status": status,
                "conclusion": conclusion, "output": out, "details_url": details_url,
            }  # fmt: skip
        self.echo(f"[{head_sha[:7]}] {status}: {out.get('title', name)}")
        if status == "completed":  # a notice: completed at once, its note written now
            self.forge.add_note(head_sha, self._note(check, output.digest if output else None))
        return cid

    def update_check_run(
        self,
        repo: str,
        check_run_id: int,
        *,
        status: str | None = None,
        conclusion: str | None = None,
        output: CheckRunOutput | None = None,
        details_url: str | None = None,
    ) -> None:
        out = output.to_json() if output else {}
        with self._state() as state:
            check = state["checks"][str(check_run_id)]
            for key, value in (("status", status), ("conclusion", conclusion), ("details_url", details_url)):
                if value is not None:
                    check[key] = value
            if out:
                check["output"] = out
        sha = check["head_sha"]
        if status == "completed":
            self.forge.add_note(sha, self._note(check, output.digest if output else None))
            self.echo(f"[{sha[:7]}] {conclusion}: {out.get('title', '')}")
        elif out:
            summary = str(out.get("summary", "")).replace("\n", " ")
            self.echo(f"[{sha[:7]}] {out.get('title', '')}: {summary[:160]}")

    def _note(self, check: dict[str, Any], digest: str | None) -> str:
        """Plain text for ``git log --notes``: the check's digest (score, categories, link) under a
        first line with the conclusion; without a digest (a notice, a cancelled run), the title and
        the summary's first lines."""
        out = check.get("output") or {}
        if digest:
            first, _, rest = digest.partition("\n")
            lines = [f"reprobot: {first} [{check.get('conclusion')}]", *rest.rstrip("\n").splitlines()]
        else:
            lines = [f"reprobot: {out.get('title', '')} [{check.get('conclusion')}]"]
            lines += [line for line in str(out.get("summary", "")).strip().splitlines()[:3] if line]
        url = check.get("details_url")
        if url and not any(f"report: {url}" == line for line in lines):
            lines.append(f"report: {url}")
        return "\n".join(lines) + "\n"

    def find_check_run(self, repo: str, head_sha: str, external_id: str, name: str) -> int | None:
        with self._state() as state:
            for cid, check in state["checks"].items():
                if check["external_id"] == external_id and check["head_sha"] == head_sha:
                    return int(cid)
        return None

    # ------------------------------------------------------------------------------ comments

    def comment_path(self, comment_id: int, pr: int | None = None) -> Path:
        """``comments/pr<N>/<id>.md``: a PR's comments sit under its number."""
        if pr is None:
            with self._state() as state:
                pr = int(state["comments"][str(comment_id)]["pr"])
        return self.state_dir / "comments" / f"pr{pr}" / f"{comment_id}.md"

    def find_comment(self, repo: str, pr: int, marker: str) -> int | None:
        with self._state() as state:
            for cid, meta in state["comments"].items():
                path = self.comment_path(int(cid), int(meta["pr"]))
                if meta["pr"] == pr and path.is_file() and marker in path.read_text(encoding="utf-8"):
                    return int(cid)
        return None

    def create_comment(self, repo: str, pr: int, body: str) -> int:
        with self._state() as state:
            cid = int(state["next_id"])
            state["next_id"] = cid + 1
            path = self.comment_path(cid, pr)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(body, encoding="utf-8")
            state["comments"][str(cid)] = {"pr": pr}
        self.echo(f"comment written: {path}")
        return cid

    def edit_comment(self, repo: str, comment_id: int, body: str) -> None:
        path = self.comment_path(comment_id)
        path.write_text(body, encoding="utf-8")
        self.echo(f"comment updated: {path}")

    # ----------------------------------------------------------------------------- the rest

    def add_reaction(self, repo: str, comment_id: int, content: str) -> None:
        return None

    def get_permission(self, repo: str, user: str) -> str:
        return "write"  # whoever can push to the forge may command it

    def dispatch_workflow(self, repo: str, workflow_file: str, ref: str, inputs: dict[str, str]) -> None:
        from bot.errors import BotError

        raise BotError(f"workflow dispatch is {NOT_SUPPORTED}")

    def download_artifact(self, repo: str, run_id: int, name: str, dest: Path) -> Path:
        from bot.errors import BotError

        raise BotError(f"artifact download is {NOT_SUPPORTED}")

    def get_pull(self, repo: str, number: int) -> dict[str, Any]:
        return {"number": number, "state": "open", "head": {}, "base": {}}

    def publish_base(self, repo: str, branch: str, paths: tuple[str, ...]) -> str:
        return self.forge.branch_head(branch) or ""

    def publish_files(
        self, repo: str, branch: str, files: Mapping[str, bytes], message: str, base: str | None = None
    ) -> None:
        expected: str | None | bool = True if base is None else (base or None)
        try:
            commit = self.forge.commit_files(branch, dict(files), message, expected)
        except RefMoved as exc:
            raise PublishConflict(str(exc)) from None
        if commit:
            self.echo(f"published {len(files)} file(s) to {branch} ({commit[:7]})")

    def clone_auth(self, repo: str) -> str | None:
        return None  # the forge is a local file:// repository


def clients_for(settings: Settings, github_factory: Callable[[Settings], GitHubFactory]) -> GitHubFactory:
    """Forge jobs get the ForgeAPI; GitHub jobs a GitHub client, built (and credential-checked) on
    first use, so a worker serving only the local forge needs no GitHub credentials."""
    forge_api = ForgeAPI(LocalForge(forge_path(settings)), settings.data_dir / "forge")
    github: list[GitHubFactory] = []

    def for_job(installation_id: int | None, repo: str) -> GitHubAPI:
        if repo == settings.forge.repo_name:
            return forge_api
        if not github:
            github.append(github_factory(settings))
        return github[0](installation_id, repo)

    return for_job


def _stderr(line: str, stream: TextIO | None = None) -> None:
    print(f"reprobot: {line}", file=stream or sys.stderr, flush=True)
