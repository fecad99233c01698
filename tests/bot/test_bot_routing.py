"""Routing turns real GitHub deliveries into the right queue entries, and nothing else.

Guards: paper branch pattern (and a custom one), closed cancels, a newer push supersedes, draft and
label gates, unknown paper / oversized repository become an actionable notice, /reprobot comments
become command jobs (bots and plain issues ignored), check_run rerequested reruns, workflow_run of
the configured workflow hands a dispatched job to the judge.
"""

from __future__ import annotations

import json
from typing import Any

from bot.jobs.queue import JobQueue
from bot.server import create_app
from bot.settings import Settings, queue_path
from tests.bot.conftest import FIXTURES, headers, payload


def _deliver(settings: Settings, event: str, data: dict[str, Any]) -> JobQueue:
    queue = JobQueue(queue_path(settings))
    client = create_app(settings, queue).test_client()
    body = json.dumps(data).encode()
    assert client.post("/webhook", data=body, headers=headers(event, body)).status_code == 202
    return queue


def test_base_branch_not_matching_the_pattern_is_ignored(settings: Settings) -> None:
    data = payload("pull_request/opened")
    data["pull_request"]["base"]["ref"] = "master"
    assert _deliver(settings, "pull_request", data).jobs() == []


def test_custom_branch_pattern(make_settings: Any) -> None:
    settings = make_settings(bot={"branch_pattern": "submit/<paper-id>/main"})
    data = payload("pull_request/opened")
    data["pull_request"]["base"]["ref"] = "submit/all-in-one/main"
    [job] = _deliver(settings, "pull_request", data).jobs()
    assert job.paper == "all-in-one"


def test_closed_cancels_and_synchronize_supersedes(settings: Settings) -> None:
    queue = _deliver(settings, "pull_request", payload("pull_request/opened"))
    client = create_app(settings, queue).test_client()
    newer = payload("pull_request/synchronize")
    newer["pull_request"]["head"]["sha"] = "f" * 40
    body = json.dumps(newer).encode()
    client.post("/webhook", data=body, headers=headers("pull_request", body))
    old, new = queue.jobs()
    assert (old.state, new.state, new.head_sha) == ("superseded", "queued", "f" * 40)
    body = json.dumps(payload("pull_request/closed")).encode()
    client.post("/webhook", data=body, headers=headers("pull_request", body))
    assert [j.state for j in queue.jobs()] == ["superseded", "cancelled"]
    body = json.dumps(newer | {"action": "reopened"}).encode()
    client.post("/webhook", data=body, headers=headers("pull_request", body))
    assert [j.state for j in queue.jobs()] == ["superseded", "queued"]


def test_draft_pull_requests_skipped_by_default_and_gradable_by_config(make_settings: Any) -> None:
    data = payload("pull_request/opened")
    data["pull_request"]["draft"] = True
    assert _deliver(make_settings(), "pull_request", data).jobs() == []
    assert len(_deliver(make_settings(bot={"draft_prs": "grade"}), "pull_request", data).jobs()) == 1


def test_label_gate(make_settings: Any) -> None:
    settings = make_settings(bot={"label_gate": "grade-me"})
    assert _deliver(settings, "pull_request", payload("pull_request/opened")).jobs() == []
    labeled = payload("pull_request/labeled")
    labeled["label"]["name"] = "grade-me"
    labeled["pull_request"]["labels"].append(dict(labeled["label"]))
    assert len(_deliver(settings, "pull_request", labeled).jobs()) == 1


def test_unknown_paper_and_oversized_repository_become_actionable_notices(make_settings: Any) -> None:
    settings = make_settings()
    data = payload("pull_request/opened")
    data["pull_request"]["base"]["ref"] = "paper/no-such-paper"
    [job] = _deliver(settings, "pull_request", data).jobs()
    assert job.kind == "notice" and "no-such-paper" in job.message and "paper/<id>" in job.message
    settings = make_settings(bot={"max_repo_size_mb": 1})
    data = payload("pull_request/opened")
    data["pull_request"]["head"]["repo"]["size"] = 50_000
    job = _deliver(settings, "pull_request", data).jobs()[-1]
    assert job.kind == "notice" and "at most 1 MB" in job.message


def test_a_paper_without_paper_md_is_a_neutral_notice_not_a_grade(make_settings: Any) -> None:
    """The judge grades with the paper: a PR to a paper whose paper.md was never imported gets a
    neutral check saying how the organizer fixes it (never a job retried as an outage, never a
    failure charged to the submitter)."""
    settings = make_settings(judge={"allow_missing_paper": False})
    data = payload("pull_request/opened")  # paper/all-in-one: bundled without paper.md
    [job] = _deliver(settings, "pull_request", data).jobs()
    assert job.kind == "notice" and job.info.conclusion == "neutral"
    assert "paper.md" in job.message and "reprobot papers import" in job.message


def _comment(body: str, user_type: str = "User") -> dict[str, Any]:
    data = json.loads((FIXTURES / "issue_comment/created.with-installation.payload.json").read_text())
    data["issue"]["pull_request"] = {"url": "https://api.github.invalid/repos/Codertocat/Hello-World/pulls/1"}
    data["comment"]["body"] = body
    data["comment"]["user"]["type"] = user_type
    return data


def test_reprobot_comments_become_command_jobs(settings: Settings) -> None:
    queue = _deliver(settings, "issue_comment", _comment("Looks good.\n/reprobot regrade please"))
    [job] = queue.jobs()
    assert job.kind == "command" and job.info.command == "regrade" and job.info.user == "Codertocat"
    assert (
        _deliver(settings, "issue_comment", _comment("/reprobot frobnicate")).jobs()[-1].info.command
        == "help"
    )


def test_comments_without_command_by_bots_or_on_issues_are_ignored(make_settings: Any) -> None:
    assert _deliver(make_settings(), "issue_comment", _comment("thanks!")).jobs() == []
    assert _deliver(make_settings(), "issue_comment", _comment("/reprobot rerun", "Bot")).jobs() == []
    plain = _comment("/reprobot rerun")
    del plain["issue"]["pull_request"]
    assert _deliver(make_settings(), "issue_comment", plain).jobs() == []


def test_workflow_run_of_another_workflow_or_unknown_job_is_ignored(make_settings: Any) -> None:
    settings = make_settings(dispatch={"mode": "actions"})
    data = json.loads((FIXTURES / "workflow_run/completed.payload.json").read_text())
    assert _deliver(settings, "workflow_run", data).jobs() == []
