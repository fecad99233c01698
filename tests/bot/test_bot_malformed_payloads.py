"""A signed but malformed payload (deep nesting, numbers past 2**63, a string where an object
belongs) is answered 400 with a one-line reason: never a 500, never a traceback, never a job."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.jobs.queue import JobQueue
from bot.server import create_app
from bot.settings import Settings, queue_path
from tests.bot.conftest import headers, payload


def _pr(**changes: Any) -> bytes:
    data = payload("pull_request/opened")
    for dotted, value in changes.items():
        node = data
        *parents, last = dotted.split("__")
        for key in parents:
            node = node[key]
        node[last] = value
    return json.dumps(data).encode()


def _comment(comment_id: Any) -> bytes:
    data = payload("issue_comment/created")
    data["issue"]["pull_request"] = {"url": "https://api.github.invalid/repos/Codertocat/Hello-World/pulls/1"}
    data["comment"]["body"] = "/reprobot rerun"
    data["comment"]["id"] = comment_id
    return json.dumps(data).encode()


CASES = {
    "deep-nesting": ("pull_request", b'{"a":' * 100_000 + b"1" + b"}" * 100_000),
    "huge-number": ("pull_request", _pr(pull_request__number=2**64)),
    "huge-negative": ("pull_request", _pr(pull_request__id=-(2**70))),
    "string-for-repository": ("pull_request", _pr(repository="Codertocat/Hello-World")),
    "string-for-head": ("pull_request", _pr(pull_request__head="main")),
    "string-for-number": ("pull_request", _pr(pull_request__number="two")),
    "huge-number-in-a-string": ("issue_comment", _comment("9" * 30)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_malformed_signed_payload_is_400_with_one_line(settings: Settings, name: str) -> None:
    event, body = CASES[name]
    queue = JobQueue(queue_path(settings))
    client = create_app(settings, queue).test_client()
    resp = client.post("/webhook", data=body, headers=headers(event, body))
    assert resp.status_code == 400, resp.get_data(as_text=True)[:300]
    error = resp.get_json()["error"]
    assert error and "\n" not in error and "Traceback" not in error and len(error) <= 300
    assert queue.jobs() == []
