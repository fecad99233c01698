"""Files committed to a repository through GitHub's contents API (one commit per changed file):
how the leaderboard reaches a GitHub Pages branch or the organizer's repository."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.github.api import GitHubError


def publish_contents(repository: Any, branch: str, files: Mapping[str, bytes], message: str) -> None:
    """Create or update each file on ``branch`` of a PyGithub ``Repository``; skip unchanged ones."""
    from github import GithubException

    for path, content in files.items():
        try:
            current = repository.get_contents(path, ref=branch)
        except GithubException as exc:
            if exc.status != 404:
                raise
            current = None
        if isinstance(current, list):
            raise GitHubError(f"{path} is a folder on {branch}, not a file")
        if current is None:
            repository.create_file(path, message, content, branch=branch)
        elif current.decoded_content != content:
            repository.update_file(path, message, content, current.sha, branch=branch)
