"""The GitHub stand-in's contents API and pull-request creation, held to
``github_extra_openapi.json`` (operations the shared REST subset lacks; see its ``x-note``).

State: files per (repository, branch, path) with git blob SHAs, the branches that exist (``main``
always; others are created by ``add_branch``, as an organizer creates ``gh-pages`` once), and pull
requests opened through ``pulls/create``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

EXTRA_SPEC = Path(__file__).with_name("github_extra_openapi.json")


def merge_extra_paths(raw: dict[str, Any]) -> None:
    raw["paths"] = {**raw["paths"], **json.loads(EXTRA_SPEC.read_text(encoding="utf-8"))["paths"]}


def blob_sha(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


class ContentsState:
    def __init__(self) -> None:
        self.files: dict[tuple[str, str, str], bytes] = {}
        self.branches: set[tuple[str, str]] = set()
        self.commits: list[dict[str, Any]] = []
        self.heads: dict[str, str] = {}  # head ("owner:branch" or "branch") -> commit SHA, set by tests

    def add_branch(self, repo: str, branch: str) -> None:
        self.branches.add((repo, branch))

    def has_branch(self, repo: str, branch: str) -> bool:
        return branch == "main" or (repo, branch) in self.branches

    def file(self, repo: str, branch: str, path: str) -> bytes | None:
        return self.files.get((repo, branch, path))


def _content(base_url: str, repo: str, path: str, data: bytes) -> dict[str, Any]:
    url = f"{base_url}/repos/{repo}/contents/{path}"
    return {
        "type": "file", "encoding": "base64", "size": len(data), "name": path.rsplit("/", 1)[-1],
        "path": path, "content": base64.b64encode(data).decode(), "sha": blob_sha(data), "url": url,
        "git_url": None, "html_url": None, "download_url": None,
        "_links": {"self": url, "git": None, "html": None},
    }  # fmt: skip


def dispatch(standin: Any, op: str, p: dict[str, str], query: dict[str, list[str]], body: Any) -> Any:
    """(status, payload) for the extra operations, or None for any other."""
    state: ContentsState = standin.contents
    repo = f"{p.get('owner')}/{p.get('repo')}"
    if op == "repos/get-content":
        branch = query.get("ref", ["main"])[0]
        data = state.file(repo, branch, p["path"])
        if data is None:
            return 404, {"message": "Not Found"}
        return 200, _content(standin.base_url, repo, p["path"], data)
    if op == "repos/create-or-update-file-contents":
        branch = body.get("branch") or "main"
        if not state.has_branch(repo, branch):
            return 404, {"message": f"Branch {branch} not found"}
        old = state.file(repo, branch, p["path"])
        if old is not None and body.get("sha") != blob_sha(old):
            return 409, {"message": f"{p['path']} does not match {body.get('sha')}"}
        if old is None and body.get("sha"):
            return 422, {"message": "sha given for a file that does not exist"}
        data = base64.b64decode(body["content"])
        state.files[(repo, branch, p["path"])] = data
        sha = blob_sha(data + body["message"].encode())
        commit = {"sha": sha, "message": body["message"], "path": p["path"]}
        state.commits.append({"repo": repo, "branch": branch, **commit})
        return (201 if old is None else 200), {
            "content": _content(standin.base_url, repo, p["path"], data), "commit": commit
        }
    if op == "pulls/create":
        number = 1 + max([n for (r, n) in standin.pulls if r == repo] or [0])
        owner = p["owner"]
        head = str(body["head"])
        pull = {
            "number": number, "state": "open", "title": body.get("title") or head, "draft": False,
            "html_url": f"https://github.invalid/{repo}/pull/{number}",
            "url": f"{standin.base_url}/repos/{repo}/pulls/{number}",
            "user": {"login": owner, "id": 9, "type": "User"}, "labels": [],
            "head": {"ref": head.split(":")[-1], "sha": state.heads.get(head, "0" * 40),
                     "repo": {"full_name": repo, "clone_url": f"https://github.invalid/{repo}.git"}},
            "base": {"ref": body["base"], "repo": {"full_name": repo}},
        }  # fmt: skip
        standin.pulls[(repo, number)] = pull
        return 201, pull
    return None
