"""Every hostile input is a one-line 4xx: whatever a signed payload carries in any field (a lone
surrogate, a NUL, an over-long or misshapen name, SHA or ref, a number past 64 bits, a wrong type),
the webhook answers 200/202 or a one-line 400, never a 5xx or a traceback; a 400 stores nothing;
and whatever it does store is well-formed. Property-based (hypothesis) over GitHub's real example
payloads of every event the bot routes, mutated anywhere, with the fields routing reads weighted in;
plus the issue's two cases replayed as they were found (a surrogate in ``repository.full_name`` and
in ``head.sha``)."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from bot.intake.fields import REPO_RE, SHA_RE
from bot.jobs.queue import JobQueue
from bot.server import create_app
from bot.settings import Settings, queue_path
from tests.bot.conftest import FIXTURES, PAPER, headers, payload

OPS = "org/reprobot-ops"


def _workflow_run() -> dict[str, Any]:
    data = json.loads((FIXTURES / "workflow_run/completed.payload.json").read_text())
    data["repository"]["full_name"] = OPS
    run = data["workflow_run"]
    for key in ("repository", "head_repository"):
        run[key]["full_name"] = OPS
    run.update(event="workflow_dispatch", path=".github/workflows/reproduce.yml", head_branch="main",
               display_title="reprobot job 1 g0 " + "n" * 32)  # fmt: skip
    run["actor"]["login"] = "reprobot-token-user"
    return data


def _comment() -> dict[str, Any]:
    data = payload("issue_comment/created")
    data["issue"]["pull_request"] = {"url": "https://api.github.invalid/repos/Codertocat/Hello-World/pulls/1"}
    data["comment"]["body"] = "/reprobot override leaf-1 pass it ran"
    return data


BASES: list[tuple[str, dict[str, Any]]] = [
    ("pull_request", payload("pull_request/opened")),
    ("pull_request", payload("pull_request/synchronize")),
    ("pull_request", payload("pull_request/closed")),
    ("pull_request", payload("pull_request/labeled")),
    ("issue_comment", _comment()),
    ("check_run", payload("check_run/rerequested")),
    ("workflow_run", _workflow_run()),
    ("push", json.loads((FIXTURES / "push/payload.json").read_text())),
]
# the fields routing reads: drawn as often as all the others together
READ = [
    "repository.full_name", "installation.id", "action",
    "pull_request.number", "pull_request.head.sha", "pull_request.head.ref", "pull_request.base.ref",
    "pull_request.head.repo.full_name", "pull_request.head.repo.clone_url", "pull_request.head.repo.size",
    "pull_request.user.login", "pull_request.user.id", "pull_request.html_url", "pull_request.labels",
    "pull_request.draft", "label.name", "issue.number", "comment.id", "comment.body", "comment.user.login",
    "comment.user.type", "check_run.id", "check_run.external_id", "check_run.app.id", "workflow_run.id",
    "workflow_run.event", "workflow_run.path", "workflow_run.head_branch", "workflow_run.display_title",
    "workflow_run.actor.login", "workflow_run.conclusion", "workflow_run.repository.full_name",
    "workflow_run.head_repository",
]  # fmt: skip


def _leaves(node: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, f"{prefix}.{key}" if prefix else key)
    elif isinstance(node, list):
        for i, value in enumerate(node[:3]):
            yield from _leaves(value, f"{prefix}.{i}")
    if prefix:
        yield prefix


PATHS = sorted({p for _, data in BASES for p in _leaves(data)})

HOSTILE_TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3),
    st.text(max_size=8).map(lambda s: s + "\ud800" + s),
    st.sampled_from([
        "", "\x00", "a\nb", "../../etc/passwd", "main; rm -rf /", "g" * 40, "A" * 40, "0" * 41,
        "x" * 70_000, "paper/all-in-one", "paper/../x", "reprobot[bot]", "-rf", "refs/heads/main.lock",
        "Codertocat/Hello-World/extra", "https://evil.invalid/\x7f", "<script>alert(1)</script>",
    ]),
)  # fmt: skip
HOSTILE = st.one_of(
    HOSTILE_TEXT,
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    node: Any = data
    *parents, last = dotted.split(".")
    for key in parents:
        if isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        elif isinstance(node, dict):
            node = node.setdefault(key, {})
        else:
            return  # an earlier mutation made this path something else
        if not isinstance(node, dict | list):
            return
    if isinstance(node, dict):
        node[last] = value
    elif isinstance(node, list) and last.isdigit() and int(last) < len(node):
        node[int(last)] = value


MUTATION = st.tuples(st.one_of(st.sampled_from(READ), st.sampled_from(PATHS)), HOSTILE)


@pytest.fixture
def hostile_settings(make_settings: Any) -> Settings:
    settings: Settings = make_settings(dispatch={"mode": "actions", "workflow_repository": OPS})
    return settings


def _assert_stored_rows_are_well_formed(queue: JobQueue) -> None:
    for job in queue.jobs():
        assert REPO_RE.match(job.repo), job.repo
        assert job.kind == "command" or SHA_RE.match(job.head_sha), job.head_sha
        json.dumps(job.to_dict(), ensure_ascii=False).encode("utf-8")  # valid Unicode throughout
    for delivery in queue.deliveries():
        delivery.outcome.encode("utf-8")


@hsettings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    base=st.integers(min_value=0, max_value=len(BASES) - 1),
    mutations=st.lists(MUTATION, min_size=1, max_size=4),
)
def test_no_signed_payload_gets_a_5xx(
    hostile_settings: Settings, base: int, mutations: list[tuple[str, Any]]
) -> None:
    event, original = BASES[base]
    data = copy.deepcopy(original)
    for dotted, value in mutations:
        _set(data, dotted, value)
    queue = JobQueue(queue_path(hostile_settings))
    client = create_app(hostile_settings, queue).test_client()
    before = len(queue.deliveries())
    body = json.dumps(data).encode()  # lone surrogates travel as \\udXXX escapes, as JSON allows
    resp = client.post("/webhook", data=body, headers=headers(event, body))
    assert resp.status_code in (200, 202, 400, 413), (resp.status_code, resp.get_data(as_text=True)[:500])
    if resp.status_code == 400:
        error = resp.get_json()["error"]
        assert error and "\n" not in error and "Traceback" not in error and len(error) <= 300
        assert len(queue.deliveries()) == before  # nothing stored
    _assert_stored_rows_are_well_formed(queue)


@pytest.mark.parametrize("field", ["repository__full_name", "pull_request__head__sha"])
def test_a_lone_surrogate_is_a_one_line_400_and_stores_nothing(
    hostile_settings: Settings, field: str
) -> None:
    queue = JobQueue(queue_path(hostile_settings))
    client = create_app(hostile_settings, queue).test_client()
    body = json.dumps(payload("pull_request/opened", **{field: "\ud800"})).encode()
    assert b"\\ud800" in body
    resp = client.post("/webhook", data=body, headers=headers("pull_request", body))
    assert resp.status_code == 400
    error = resp.get_json()["error"]
    assert "\n" not in error and re.search(r"(full_name|sha)", error), error
    assert queue.jobs() == [] and queue.deliveries() == []


def test_the_base_payloads_route_as_they_are(hostile_settings: Settings) -> None:
    """The property starts from payloads the bot accepts: each unmutated one is 202."""
    queue = JobQueue(queue_path(hostile_settings))
    client = create_app(hostile_settings, queue).test_client()
    for event, data in BASES:
        body = json.dumps(data).encode()
        resp = client.post("/webhook", data=body, headers=headers(event, body))
        assert resp.status_code == 202, (event, resp.get_data(as_text=True))
    assert {j.paper for j in queue.jobs() if j.kind == "grade"} == {PAPER}
