"""Shared fixtures for judge tests: a toy paper, an executed submission, the OpenAI stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from judge.config import JudgeSettings
from judge.llm import OpenAIBackend
from judge.papers import Paper
from tests.judge.fixtures import make_executed, make_paper
from tests.standins.openai_server import OpenAIStandIn


@pytest.fixture
def paper(tmp_path: Path) -> Paper:
    return make_paper(tmp_path)


@pytest.fixture
def executed(tmp_path: Path) -> Path:
    return make_executed(tmp_path)


@pytest.fixture
def server() -> Iterator[OpenAIStandIn]:
    with OpenAIStandIn() as srv:
        yield srv
    assert srv.validation_errors == [], "a request did not match the OpenAI spec"


def fast_settings(server: OpenAIStandIn, **kw: object) -> JudgeSettings:
    base: dict[str, object] = {
        "model": "gpt-4o-mini",
        "base_url": server.base_url,
        "backoff_base_s": 0.01,
        "backoff_max_s": 5.0,
        "timeout_s": 5.0,
        "max_retries": 3,
        "concurrency": 4,
        "protocol": "reprobot",  # these tests exercise the call machinery one leaf per call
        "leaves_per_call": 1,
    }
    base.update(kw)
    return JudgeSettings(**base)  # type: ignore[arg-type]


def backend_for(settings: JudgeSettings) -> OpenAIBackend:
    return OpenAIBackend.from_settings(settings, "sk-test-key")
