"""Shared fixtures for the bot tests: a GitHub stand-in, settings, signed real webhook payloads."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.settings import Settings, load_settings
from tests.shared import SHARED
from tests.standins.github_server import GitHubStandIn

FIXTURES = SHARED / "fixtures/github/webhooks"
SECRET = "test-webhook-secret"
PAPER = "all-in-one"


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def payload(name: str, **changes: Any) -> dict[str, Any]:
    """A real GitHub example payload, e.g. ``pull_request/opened``; PR payloads target paper/<PAPER>."""
    path = FIXTURES / f"{name}.payload.json"
    data: dict[str, Any] = json.loads(path.read_text())
    if "pull_request" in data:
        data["pull_request"]["base"]["ref"] = f"paper/{PAPER}"
    for dotted, value in changes.items():
        node = data
        keys = dotted.split("__")
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value
    return data


def headers(event: str, body: bytes, delivery: str | None = None, secret: str = SECRET) -> dict[str, str]:
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(body, secret),
        "Content-Type": "application/json",
    }


@pytest.fixture
def github() -> Iterator[GitHubStandIn]:
    standin = GitHubStandIn()
    standin.start()
    yield standin
    standin.stop()
    assert standin.violations == [], standin.violations


@pytest.fixture
def make_settings(tmp_path: Path, github: GitHubStandIn) -> Callable[..., Settings]:
    def make(**sections: dict[str, Any]) -> Settings:
        config: dict[str, Any] = {
            "data_dir": str(tmp_path / "data"),
            "bot": {
                "grader": "tests.bot.fake_grader:FakeGrader",
                "retry_backoff_s": 0,
                "lease_s": 5,
                "worker_concurrency": 1,
            },
            # the bundled papers come without paper.md (PaperBench keeps it in Git LFS); these tests
            # are about the bot's flow, the paper refusal has its own tests
            "judge": {"allow_missing_paper": True},
            "github": {
                "api_base_url": github.base_url,
                "bot_login": github.token_login,
                "backoff_s": 0.01,
                "secondary_rate_wait_s": 0.1,
                "seconds_between_requests": 0,
                "seconds_between_writes": 0,
            },
        }
        for key, value in sections.items():
            config.setdefault(key, {}).update(value)
        path = tmp_path / "reprobot.yaml"
        path.write_text(yaml.safe_dump(config))
        return load_settings(path, {"REPROBOT_WEBHOOK_SECRET": SECRET, "REPROBOT_GITHUB_TOKEN": "test-token"})

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()
