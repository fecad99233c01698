"""The ``GitHubAPI`` seam over PyGithub: the real GitHub (or GitHub Enterprise) client.

Auth is a GitHub App (JWT -> installation token; PyGithub's ``AppInstallationAuth`` refreshes the
token before its one-hour expiry, so jobs may run for hours) or a plain token for simple setups.
Requests are retried with backoff on 5xx and on secondary rate limits (403/429 with Retry-After)
by PyGithub's ``GithubRetry``. Check-run outputs arrive typed and leave as GitHub's JSON. Files are
committed through the contents API (``publish_contents``: the leaderboard on a Pages branch).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import shutil
import stat
import tempfile
import threading
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from bot.errors import BotError
from bot.github.api import CheckRunOutput, GitHubAPI, GitHubError, GitHubFactory, PublishConflict
from bot.settings import Settings

MAX_ARTIFACT_BYTES = 4 * 1024**3


def _translate(exc: Exception, what: str) -> GitHubError:
    status = getattr(exc, "status", None)
    return GitHubError(f"GitHub {what} failed ({status or type(exc).__name__}): {str(exc)[:200]}")


class PyGithubAPI:
    """``GitHubAPI`` over PyGithub (lazy objects: one request per operation)."""

    def __init__(self, gh: Any, *, app_id: int | None = None, login: str | None = None) -> None:
        self.gh = gh
        self.app_id = app_id  # App auth: our comments carry performed_via_github_app.id == app_id
        self.login = login  # token auth: the token's user (configured, or learned from our creates)

    def _ours(self, data: dict[str, Any]) -> bool:
        """Whether a comment (GitHub's JSON) was written by this App or the token's user."""
        user = data.get("user") or {}
        if self.app_id is not None:
            app = data.get("performed_via_github_app") or {}
            return app.get("id") == self.app_id and user.get("type") == "Bot"
        return self.login is not None and user.get("login") == self.login

    def _repo(self, repo: str) -> Any:
        return self.gh.get_repo(repo)

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        from github import GithubException

        try:
            return fn()
        except GithubException as exc:
            raise _translate(exc, what) from None
        except OSError as exc:  # connection refused/reset after retries
            raise _translate(exc, what) from None

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
        outputs: list[dict[str, Any] | None] = list(output.requests()) if output else [None]
        kwargs: dict[str, Any] = {
            "name": name,
            "head_sha": head_sha,
            "external_id": external_id,
            "status": status,
        }
        if outputs[0] is not None:
            kwargs["output"] = outputs[0]
        if conclusion is not None:
            kwargs["conclusion"] = conclusion
        if details_url is not None:
            kwargs["details_url"] = details_url
        run = self._call("create check run", lambda: self._repo(repo).create_check_run(**kwargs))
        for extra in outputs[1:]:
            self._edit_check_run(repo, int(run.id), {"output": extra})
        return int(run.id)

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
        outputs: list[dict[str, Any] | None] = list(output.requests()) if output else [None]
        for i, out in enumerate(outputs):
            kwargs: dict[str, Any] = {}
            if i == 0:
                if status is not None:
                    kwargs["status"] = status
                if conclusion is not None:
                    kwargs["conclusion"] = conclusion
                if details_url is not None:
                    kwargs["details_url"] = details_url
            if out is not None:
                kwargs["output"] = out
            self._edit_check_run(repo, check_run_id, kwargs)

    def _edit_check_run(self, repo: str, check_run_id: int, kwargs: dict[str, Any]) -> None:
        run = self._repo(repo).get_check_run(check_run_id)
        self._call("update check run", functools.partial(run.edit, **kwargs))

    def find_check_run(self, repo: str, head_sha: str, external_id: str, name: str) -> int | None:
        def find() -> int | None:
            repository = self._repo(repo)
            _, data = repository._requester.requestJsonAndCheck(
                "GET",
                f"{repository.url}/commits/{head_sha}/check-runs",
                parameters={"check_name": name, "filter": "all", "per_page": 100},
            )
            for run in data.get("check_runs", []):
                if run.get("external_id") == external_id:
                    return int(run["id"])
            return None

        return self._call("list check runs", find)  # type: ignore[no-any-return]

    def find_comment(self, repo: str, pr: int, marker: str) -> int | None:
        def find() -> int | None:
            for comment in self._repo(repo).get_issue(pr).get_comments():
                data = comment._rawData  # as listed: no further request per comment
                if marker in str(data.get("body") or "") and self._ours(data):
                    return int(data["id"])
            return None  # a participant's copy of the marker is never ours

        return self._call("list comments", find)  # type: ignore[no-any-return]

    def create_comment(self, repo: str, pr: int, body: str) -> int:
        comment = self._call("create comment", lambda: self._repo(repo).get_issue(pr).create_comment(body))
        if self.app_id is None and self.login is None:
            self.login = (comment._rawData.get("user") or {}).get("login")
        return int(comment.id)

    def _comment(self, repo: str, comment_id: int) -> Any:
        from github.IssueComment import IssueComment

        repository = self._repo(repo)  # lazy: no request until the edit/reaction itself
        return IssueComment(repository._requester, url=f"{repository.url}/issues/comments/{comment_id}")

    def edit_comment(self, repo: str, comment_id: int, body: str) -> None:
        self._call("edit comment", lambda: self._comment(repo, comment_id).edit(body))

    def add_reaction(self, repo: str, comment_id: int, content: str) -> None:
        self._call("add reaction", lambda: self._comment(repo, comment_id).create_reaction(content))

    def get_permission(self, repo: str, user: str) -> str:
        return str(self._call("get permission", lambda: self._repo(repo).get_collaborator_permission(user)))

    def dispatch_workflow(self, repo: str, workflow_file: str, ref: str, inputs: dict[str, str]) -> None:
        def dispatch() -> None:
            workflow = self._repo(repo).get_workflow(workflow_file)
            workflow.create_dispatch(ref, inputs, throw=True)

        self._call("dispatch workflow", dispatch)

    def download_artifact(self, repo: str, run_id: int, name: str, dest: Path) -> Path:
        def download() -> Path:
            repository = self._repo(repo)
            requester = repository._requester
            _, data = requester.requestJsonAndCheck(
                "GET", f"{repository.url}/actions/runs/{run_id}/artifacts", parameters={"name": name}
            )
            found = [a for a in data.get("artifacts", []) if a.get("name") == name and not a.get("expired")]
            if not found:
                raise GitHubError(f"workflow run {run_id} has no artifact {name!r}")
            if int(found[0].get("size_in_bytes") or 0) > MAX_ARTIFACT_BYTES:
                raise GitHubError(f"artifact {name!r} is larger than {MAX_ARTIFACT_BYTES} bytes")
            with tempfile.TemporaryDirectory() as tmp:
                archive = Path(tmp) / "artifact.zip"
                requester.getFile(found[0]["archive_download_url"], str(archive))
                safe_unzip(archive, dest)
            return dest

        return self._call("download artifact", download)  # type: ignore[no-any-return]

    def clone_auth(self, repo: str) -> str | None:
        """With App auth: the installation token (valid for an hour, refreshed by PyGithub), as
        git's Basic credentials; a personal token is never handed to git."""
        if self.app_id is None:
            return None
        token = self._call("installation token", lambda: self.gh.requester.auth.token)
        return "Basic " + base64.b64encode(f"x-access-token:{token}".encode()).decode()

    def get_pull(self, repo: str, number: int) -> dict[str, Any]:
        pull = self._call("get pull request", lambda: self._repo(repo).get_pull(number))
        return dict(pull.raw_data)

    def publish_base(self, repo: str, branch: str, paths: tuple[str, ...]) -> str:
        shas = self._call("read published files", lambda: content_shas(self._repo(repo), branch, paths))
        return json.dumps(shas, sort_keys=True)

    def publish_files(
        self, repo: str, branch: str, files: Mapping[str, bytes], message: str, base: str | None = None
    ) -> None:
        def publish() -> None:
            repository = self._repo(repo)
            shas = json.loads(base) if base else content_shas(repository, branch, tuple(files))
            publish_contents(repository, branch, files, message, shas)

        self._call("publish files", publish)


def blob_sha(content: bytes) -> str:
    """git's blob SHA of ``content`` (what the contents API calls a file's ``sha``)."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def content_shas(repository: Any, branch: str, paths: tuple[str, ...]) -> dict[str, str | None]:
    """Each file's blob SHA on ``branch`` (None: absent)."""
    from github import GithubException

    shas: dict[str, str | None] = {}
    for path in paths:
        try:
            current = repository.get_contents(path, ref=branch)
        except GithubException as exc:
            if exc.status != 404:
                raise
            current = None
        if isinstance(current, list):
            raise GitHubError(f"{path} is a folder on {branch}, not a file")
        shas[path] = current.sha if current is not None else None
    return shas


def publish_contents(
    repository: Any, branch: str, files: Mapping[str, bytes], message: str, shas: Mapping[str, str | None]
) -> None:
    """Create or update each file on ``branch`` of a PyGithub ``Repository`` from the blob SHAs it
    had when read (``shas``), skipping unchanged ones: the contents API refuses an update whose SHA
    is no longer the file's (409) or a create over a file that appeared (409/422), and that refusal
    is a ``PublishConflict``, never a write over newer content."""
    from github import GithubException

    for path, content in files.items():
        sha = shas.get(path)
        if sha == blob_sha(content):
            continue
        try:
            if sha is None:
                repository.create_file(path, message, content, branch=branch)
            else:
                repository.update_file(path, message, content, sha, branch=branch)
        except GithubException as exc:
            if exc.status in (409, 422):
                moved = f"{path} on {branch} changed since it was read ({exc.status})"
                raise PublishConflict(moved) from None
            raise


def safe_unzip(archive: Path, dest: Path, max_bytes: int = MAX_ARTIFACT_BYTES) -> None:
    """Extract untrusted zip data: no absolute paths, no '..', no symlinks, capped total size."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    total = 0
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            name = PurePosixPath(info.filename)
            if name.is_absolute() or ".." in name.parts or not name.parts:
                raise GitHubError(f"artifact holds an unsafe path {info.filename!r}")
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                continue
            total += info.file_size
            if total > max_bytes:
                raise GitHubError("artifact is larger than allowed when extracted")
            target = dest.joinpath(*name.parts)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)


def _retry(settings: Settings) -> Any:
    from github import GithubRetry

    return GithubRetry(
        total=settings.github.retries,
        backoff_factor=settings.github.backoff_s,
        secondary_rate_wait=settings.github.secondary_rate_wait_s,
        status_forcelist=[429, *range(500, 600)],
        # PATCH is idempotent for check runs and comments. A POST is never resent blindly (its
        # response may be lost after GitHub did it): the worker looks for the object first.
        allowed_methods=frozenset({"GET", "PATCH", "PUT", "DELETE"}),
    )


def github_factory(settings: Settings) -> GitHubFactory:
    """Build clients per installation from settings + secrets; a clear error when none are configured."""
    from github import Auth, Github, GithubIntegration

    base_url = settings.github.api_base_url.rstrip("/")
    secrets = settings.secrets
    common: dict[str, Any] = {
        "base_url": base_url,
        "timeout": int(settings.github.timeout_s),
        "retry": _retry(settings),
        "lazy": True,
        "seconds_between_requests": settings.github.seconds_between_requests or None,
        "seconds_between_writes": settings.github.seconds_between_writes or None,
    }
    if settings.github.app_id is not None and secrets.github_app_private_key is not None:
        app_auth = Auth.AppAuth(settings.github.app_id, secrets.github_app_private_key.get_secret_value())
        lock = threading.Lock()
        clients: dict[int, PyGithubAPI] = {}

        def for_installation(installation_id: int | None, repo: str) -> GitHubAPI:
            with lock:
                if installation_id is None:
                    integration = GithubIntegration(auth=app_auth, base_url=base_url, retry=_retry(settings))
                    owner, name = repo.split("/", 1)
                    installation_id = int(integration.get_repo_installation(owner, name).id)
                if installation_id not in clients:
                    auth = app_auth.get_installation_auth(installation_id)  # refreshed before expiry
                    clients[installation_id] = PyGithubAPI(
                        Github(auth=auth, **common), app_id=settings.github.app_id
                    )
                return clients[installation_id]

        return for_installation
    if secrets.github_token is not None:
        client = PyGithubAPI(
            Github(auth=Auth.Token(secrets.github_token.get_secret_value()), **common),
            login=settings.github.bot_login,
        )
        return lambda installation_id, repo: client
    raise BotError(
        "the worker needs GitHub credentials: set REPROBOT_GITHUB_TOKEN, or github.app_id in the config "
        "and REPROBOT_GITHUB_APP_PRIVATE_KEY in the environment"
    )
