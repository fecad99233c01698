"""The webhook accepts only correctly signed deliveries, stores each one once, and answers at once.

Guards: GitHub's documented HMAC test vector; 401 for missing/forged signatures with nothing
stored; 413 past the size cap; the same X-GitHub-Delivery five times (also concurrently) is one
job; unknown events/actions are acknowledged and ignored; GET /healthz.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from bot.intake.webhook import signature, verify_signature
from bot.jobs.queue import JobQueue
from bot.server import create_app
from bot.settings import Settings, queue_path
from tests.bot.conftest import FIXTURES, SECRET, headers, payload


def test_github_documented_hmac_test_vector() -> None:
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert signature(b"It's a Secret to Everybody", b"Hello, World!") == expected
    assert verify_signature(b"It's a Secret to Everybody", b"Hello, World!", expected)
    assert not verify_signature(b"It's a Secret to Everybody", b"Hello, World?", expected)
    assert not verify_signature(b"It's a Secret to Everybody", b"Hello, World!", expected[7:])  # no prefix
    assert not verify_signature(b"It's a Secret to Everybody", b"Hello, World!", None)


def _post(client: Any, event: str, data: dict[str, Any], delivery: str | None = None, **kw: Any) -> Any:
    body = json.dumps(data).encode()
    h = headers(event, body, delivery)
    h.update(kw.pop("override", {}))
    return client.post("/webhook", data=body, headers=h)


@pytest.fixture
def app_queue(settings: Settings) -> tuple[Any, JobQueue]:
    queue = JobQueue(queue_path(settings))
    return create_app(settings, queue).test_client(), queue


def test_opened_pull_request_queues_one_grade_of_the_head_sha(app_queue: tuple[Any, JobQueue]) -> None:
    client, queue = app_queue
    data = payload("pull_request/opened")
    resp = _post(client, "pull_request", data)
    assert resp.status_code == 202, resp.json
    [job] = queue.jobs()
    assert (job.kind, job.repo, job.pr, job.head_sha, job.paper, job.state) == (
        "grade",
        "Codertocat/Hello-World",
        2,
        data["pull_request"]["head"]["sha"],
        "all-in-one",
        "queued",
    )
    assert len(job.rubric_version) == 12


@pytest.mark.parametrize("bad", ["sha256=" + "0" * 64, "", "sha1=abc", "sha256=forged"])
def test_forged_or_missing_signature_is_401_and_queues_nothing(
    app_queue: tuple[Any, JobQueue], bad: str
) -> None:
    client, queue = app_queue
    override = {"X-Hub-Signature-256": bad} if bad else {"X-Hub-Signature-256": ""}
    resp = _post(client, "pull_request", payload("pull_request/opened"), override=override)
    assert resp.status_code == 401
    assert queue.jobs() == [] and queue.deliveries() == []


def test_signature_by_another_secret_is_rejected(app_queue: tuple[Any, JobQueue]) -> None:
    client, queue = app_queue
    body = json.dumps(payload("pull_request/opened")).encode()
    resp = client.post("/webhook", data=body, headers=headers("pull_request", body, secret=SECRET + "x"))
    assert resp.status_code == 401 and queue.jobs() == []


def test_body_over_the_cap_is_413(make_settings: Any) -> None:
    settings = make_settings(bot={"max_body_bytes": 2048})
    client = create_app(settings).test_client()
    body = json.dumps({"action": "opened", "pad": "x" * 4096}).encode()
    resp = client.post("/webhook", data=body, headers=headers("pull_request", body))
    assert resp.status_code == 413


def test_default_cap_is_25_mb(settings: Settings) -> None:
    client = create_app(settings).test_client()
    body = b'{"a":"' + b"x" * (25 * 1024 * 1024) + b'"}'
    resp = client.post("/webhook", data=body, headers=headers("push", body))
    assert resp.status_code == 413


def test_same_delivery_five_times_is_one_job(app_queue: tuple[Any, JobQueue]) -> None:
    client, queue = app_queue
    delivery = str(uuid.uuid4())
    codes = [
        _post(client, "pull_request", payload("pull_request/opened"), delivery).status_code for _ in range(5)
    ]
    assert codes == [202, 200, 200, 200, 200]
    assert len(queue.jobs()) == 1 and len(queue.deliveries()) == 1


def test_same_delivery_five_times_concurrently_is_one_job(settings: Settings) -> None:
    queue = JobQueue(queue_path(settings))
    server = make_server("127.0.0.1", 0, create_app(settings, queue), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/webhook"
        body = json.dumps(payload("pull_request/opened")).encode()
        h = headers("pull_request", body)
        codes: list[int] = []
        barrier = threading.Barrier(5)

        def send() -> None:
            barrier.wait()
            codes.append(requests.post(url, data=body, headers=h, timeout=10).status_code)

        senders = [threading.Thread(target=send) for _ in range(5)]
        for t in senders:
            t.start()
        for t in senders:
            t.join()
    finally:
        server.shutdown()
    assert sorted(codes) == [200, 200, 200, 200, 202]
    assert len(queue.jobs()) == 1


@pytest.mark.parametrize(
    "event,name",
    [
        ("ping", "ping/payload.json"),
        ("push", "push/payload.json"),
        ("installation", "installation/created.payload.json"),
        ("pull_request", "pull_request/labeled.payload.json"),
        ("check_suite", "check_suite/rerequested.payload.json"),
        ("workflow_job", "workflow_job/queued.payload.json"),
    ],
)
def test_unknown_events_and_actions_are_acknowledged_and_ignored(
    app_queue: tuple[Any, JobQueue], event: str, name: str
) -> None:
    client, queue = app_queue
    resp = _post(client, event, json.loads((FIXTURES / name).read_text()))
    assert resp.status_code == 202
    assert queue.jobs() == []
    assert len(queue.deliveries()) == 1


def test_not_json_and_missing_headers_are_400_without_tracebacks(app_queue: tuple[Any, JobQueue]) -> None:
    client, queue = app_queue
    body = b"not json"
    assert client.post("/webhook", data=body, headers=headers("push", body)).status_code == 400
    h = headers("push", b"{}")
    del h["X-GitHub-Delivery"]
    assert client.post("/webhook", data=b"{}", headers=h).status_code == 400
    assert queue.jobs() == []


def test_healthz(app_queue: tuple[Any, JobQueue]) -> None:
    client, _ = app_queue
    resp = client.get("/healthz")
    assert resp.status_code == 200 and resp.json["status"] == "degraded"  # the queue is fine, no worker yet
    assert resp.json["worker_alive"] is False and resp.json["disk"]["ok"] is True
