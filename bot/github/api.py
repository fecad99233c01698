"""The GitHub seam: the small ``GitHubAPI`` Protocol the worker uses, and the records it carries.

Two honest implementations stand behind it: ``bot.github.pygithub`` (GitHub itself) and
``bot.forge.api`` (the local git forge). Check-run outputs are typed here and turned into GitHub's
JSON, within GitHub's limits, by ``CheckRunOutput.requests``. ``create_once`` makes a create
idempotent (look before creating again).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from bot.backoff import backoff_delay
from bot.errors import BotError

MAX_ANNOTATIONS_PER_REQUEST = 50  # GitHub's limit per create/update call
MAX_TITLE = 255  # check-run output title
MAX_TEXT = 65_535  # check-run output summary and text
MAX_COMMENT = 65_536  # issue comment body

AnnotationLevel = Literal["notice", "warning", "failure"]


class GitHubError(BotError):
    """GitHub answered with an error after retries (an infrastructure problem for the job)."""

    exit_code = 3


class PublishConflict(GitHubError):
    """The branch moved since the ``publish_base`` a publish was built against (another publisher
    won the compare-and-swap): read the base again, rebuild from the newest results, retry."""


def cap(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` within ``limit`` characters, the cut marked."""
    if len(text) <= limit:
        return text
    note = "\n\n… (truncated)"
    return text[: max(limit - len(note), 0)] + note


@dataclass(frozen=True, slots=True)
class Annotation:
    path: str
    start_line: int
    end_line: int
    annotation_level: AnnotationLevel
    title: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path[:1000],
            "start_line": self.start_line,
            "end_line": self.end_line,
            "annotation_level": self.annotation_level,
            "title": cap(self.title, MAX_TITLE),
            "message": cap(self.message, 60_000),
        }


@dataclass(frozen=True, slots=True)
class CheckRunOutput:
    title: str
    summary: str
    text: str | None = None
    annotations: tuple[Annotation, ...] = ()
    # the same in plain text (score, categories, link) for a seam that shows no Markdown: the local
    # forge writes it as the commit's git note; it is never sent to GitHub
    digest: str | None = None

    def to_json(self) -> dict[str, Any]:
        """GitHub's ``output`` object, every field within GitHub's limits (annotations apart)."""
        data: dict[str, Any] = {"title": cap(self.title, MAX_TITLE), "summary": cap(self.summary)}
        if self.text:
            data["text"] = cap(self.text)
        return data

    def requests(self) -> Iterator[dict[str, Any]]:
        """One output per request: GitHub takes at most 50 annotations at a time (later calls append)."""
        base = self.to_json()
        if not self.annotations:
            yield base
            return
        notes = [a.to_json() for a in self.annotations]
        for i in range(0, len(notes), MAX_ANNOTATIONS_PER_REQUEST):
            yield {**base, "annotations": notes[i : i + MAX_ANNOTATIONS_PER_REQUEST]}


class GitHubAPI(Protocol):
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
    ) -> int: ...

    def update_check_run(
        self,
        repo: str,
        check_run_id: int,
        *,
        status: str | None = None,
        conclusion: str | None = None,
        output: CheckRunOutput | None = None,
        details_url: str | None = None,
    ) -> None: ...

    def find_check_run(self, repo: str, head_sha: str, external_id: str, name: str) -> int | None: ...

    def find_comment(self, repo: str, pr: int, marker: str) -> int | None: ...

    def create_comment(self, repo: str, pr: int, body: str) -> int: ...

    def edit_comment(self, repo: str, comment_id: int, body: str) -> None: ...

    def add_reaction(self, repo: str, comment_id: int, content: str) -> None: ...

    def get_permission(self, repo: str, user: str) -> str: ...

    def dispatch_workflow(self, repo: str, workflow_file: str, ref: str, inputs: dict[str, str]) -> None: ...

    def download_artifact(self, repo: str, run_id: int, name: str, dest: Path) -> Path: ...

    def get_pull(self, repo: str, number: int) -> dict[str, Any]: ...

    def publish_base(self, repo: str, branch: str, paths: tuple[str, ...]) -> str:
        """What ``branch`` holds now, as an opaque token (a commit SHA; the files' blob SHAs), read
        *before* building what is published."""
        ...

    def publish_files(
        self, repo: str, branch: str, files: Mapping[str, bytes], message: str, base: str | None = None
    ) -> None:
        """Commit ``files`` (path -> bytes) to ``branch`` of ``repo``; unchanged files are left alone.
        With ``base`` (from ``publish_base``), a compare-and-swap: ``PublishConflict`` when the
        branch moved since, and nothing is written over the newer content."""
        ...

    def clone_auth(self, repo: str) -> str | None:
        """An HTTP ``Authorization`` value for cloning ``repo`` (a short-lived installation token),
        or None where there is none (token auth, the local forge)."""
        ...


GitHubFactory = Callable[[int | None, str], GitHubAPI]  # (installation id, repository) -> client


def create_once(
    create: Callable[[], int],
    find: Callable[[], int | None],
    *,
    attempts: int = 3,
    backoff_s: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """An idempotent create: when a create fails (a 5xx, a read timeout: GitHub may have done it and
    lost the answer), look for the object (by ``external_id`` or comment marker) before trying
    again. Raises the last error when it neither exists nor can be created."""
    for attempt in range(1, attempts + 1):
        try:
            return create()
        except GitHubError:
            found = find()
            if found is not None:
                return found
            if attempt == attempts:
                raise
            sleep(backoff_delay(backoff_s, attempt, cap_s=30.0))
    raise AssertionError("unreachable")
