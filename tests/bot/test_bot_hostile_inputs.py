"""Hostile or malformed inputs are answered calmly, and the GitHub stand-in is itself honest.

Guards: a signed but malformed payload is answered 400 (no 500, no job); odd command text
falls back to help; artifact archives cannot write outside their folder or plant symlinks; the
stand-in rejects requests the REST description forbids (so passing tests mean conforming requests).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
import requests

from bot.github.api import GitHubError
from bot.github.pygithub import safe_unzip
from bot.intake.commands import parse_command
from bot.jobs.queue import JobQueue
from bot.server import create_app
from bot.settings import Settings, queue_path
from tests.bot.conftest import headers
from tests.standins.github_server import GitHubStandIn


def test_signed_but_malformed_payload_is_stored_as_unroutable(settings: Settings) -> None:
    queue = JobQueue(queue_path(settings))
    client = create_app(settings, queue).test_client()
    for data in (
        {"action": "opened", "pull_request": {"base": {"ref": "paper/all-in-one"}}},
        {"action": "created", "issue": {"pull_request": {}}, "comment": {"body": "/reprobot rerun"}},
        {"action": "opened", "pull_request": "not an object"},
        [1, 2, 3],
    ):
        body = json.dumps(data).encode()
        resp = client.post(
            "/webhook",
            data=body,
            headers=headers("pull_request" if "pull_request" in str(data) else "issue_comment", body),
        )
        assert resp.status_code in (202, 400)
    assert queue.jobs() == []


@pytest.mark.parametrize(
    "body,command",
    [
        ("/reprobot rerun; rm -rf /", "help"),
        ("/reprobot", "help"),
        ("/REPROBOT STATUS", None),
        ("please /reprobot rerun", None),
        ("hi\n  /reprobot code-dev\n", "code-dev"),
        ("/reprobotics", None),  # the command word ends at a word boundary
    ],
)
def test_command_parsing(body: str, command: str | None) -> None:
    parsed = parse_command(body)
    assert (parsed.word if parsed else None) == command


def test_unzip_refuses_path_traversal_and_skips_symlinks(tmp_path: Path) -> None:
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../escape.txt", "x")
    with pytest.raises(GitHubError, match="unsafe path"):
        safe_unzip(evil, tmp_path / "out")
    linky = tmp_path / "link.zip"
    with zipfile.ZipFile(linky, "w") as zf:
        info = zipfile.ZipInfo("submission/link")
        info.external_attr = 0o120777 << 16
        zf.writestr(info, "/etc/passwd")
        zf.writestr("submission/ok.txt", "fine")
    safe_unzip(linky, tmp_path / "out2")
    assert (tmp_path / "out2/submission/ok.txt").read_text() == "fine"
    assert not (tmp_path / "out2/submission/link").exists()


def test_standin_rejects_requests_the_rest_description_forbids(github: GitHubStandIn) -> None:
    url = f"{github.base_url}/repos/o/r/check-runs"
    auth = {"Authorization": "token t"}
    # status completed without a conclusion violates the oneOf of checks/create
    r = requests.post(
        url, json={"name": "x", "head_sha": "a", "status": "completed"}, headers=auth, timeout=5
    )
    assert r.status_code == 422
    r = requests.post(
        url, json={"name": "x", "head_sha": "a", "conclusion": "great"}, headers=auth, timeout=5
    )
    assert r.status_code == 422
    r = requests.get(f"{github.base_url}/repos/o/r/issues/x/comments", headers=auth, timeout=5)
    assert r.status_code == 422  # issue_number must be an integer
    r = requests.get(f"{github.base_url}/repos/o/r/teleport", headers=auth, timeout=5)
    assert r.status_code == 422
    r = requests.post(url, json={"name": "x", "head_sha": "a"}, timeout=5)
    assert r.status_code == 422  # no credentials
    assert len(github.violations) == 5
    github.violations.clear()
    ok = requests.post(
        url,
        json={"name": "x", "head_sha": "a", "status": "completed", "conclusion": "neutral"},
        headers=auth,
        timeout=5,
    )
    assert ok.status_code == 201 and ok.json()["conclusion"] == "neutral"
