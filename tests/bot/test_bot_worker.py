"""The worker turns queued jobs into one check run per job and one living comment per PR.

Everything goes through real PyGithub to the GitHub stand-in, which validates each request against
the REST OpenAPI subset. Guards: stages and conclusions (pass threshold, neutral for infra errors,
failure for rejections), blacklist annotations, one comment edited in place with the score history,
retries through 502 and secondary rate limits without double posting, PR commands with permission
checks and reactions, cancellation of superseded work, summaries within GitHub's limits.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.github.pygithub import github_factory
from bot.jobs.context import job_states
from bot.jobs.queue import JobQueue
from bot.jobs.worker import Worker, build_grader
from bot.report import COMMENT_MARKER
from bot.server import create_app
from bot.settings import Settings, queue_path
from tests.bot.conftest import FIXTURES, headers, payload
from tests.standins.github_server import GitHubStandIn

REPO = "Codertocat/Hello-World"


def deliver(settings: Settings, event: str, data: dict[str, Any]) -> None:
    client = create_app(settings, JobQueue(queue_path(settings))).test_client()
    body = json.dumps(data).encode()
    assert client.post("/webhook", data=body, headers=headers(event, body)).status_code in (200, 202)


def work(settings: Settings) -> JobQueue:
    queue = JobQueue(queue_path(settings), lease_s=settings.bot.lease_s)
    Worker(settings, queue, build_grader(settings), github_factory(settings), poll_s=0.05).run(once=True)
    return queue


def fake(settings: Settings, **cfg: Any) -> None:
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    (Path(settings.data_dir) / "fake_grader.json").write_text(json.dumps(cfg))


def test_opened_pr_gets_a_completed_check_run_and_one_comment(
    settings: Settings, github: GitHubStandIn
) -> None:
    deliver(settings, "pull_request", payload("pull_request/opened"))
    queue = work(settings)
    [job] = queue.jobs()
    assert job.state == "posted"
    [run] = github.check_runs.values()
    assert run["status"] == "completed" and run["conclusion"] in ("success", "failure")
    assert run["external_id"] == job.external_id
    assert run["history"][:2] == ["queued", "in_progress"]
    assert len(run["output"]["summary"]) <= 65_535 and len(run["output"]["title"]) <= 255
    [comment] = github.comments.values()
    assert comment["body"].startswith(COMMENT_MARKER)
    result = Path(job.result_dir or "")
    assert {"grade.json", "judge_summary.json", "metadata.json", "submission.json"} <= {
        p.name for p in result.iterdir()
    }
    sub = json.loads((result / "submission.json").read_text())
    assert (sub["repository"], sub["pr_number"], sub["head_sha"]) == (REPO, 2, job.head_sha)


@pytest.mark.parametrize("threshold,conclusion", [(0.0, "success"), (1.0, "failure")])
def test_pass_threshold_decides_the_conclusion(
    make_settings: Any, github: GitHubStandIn, threshold: float, conclusion: str
) -> None:
    settings = make_settings(bot={"pass_threshold": threshold})
    deliver(settings, "pull_request", payload("pull_request/opened"))
    work(settings)
    [run] = github.check_runs.values()
    assert run["conclusion"] == conclusion


def test_a_second_push_edits_the_same_comment_and_keeps_history(
    settings: Settings, github: GitHubStandIn
) -> None:
    deliver(settings, "pull_request", payload("pull_request/opened"))
    work(settings)
    newer = payload("pull_request/synchronize")
    newer["pull_request"]["head"]["sha"] = "b" * 40
    deliver(settings, "pull_request", newer)
    queue = work(settings)
    assert len(github.check_runs) == 2
    [comment] = github.comments.values()
    assert comment["edits"] == 1
    assert [h.head_sha for h in queue.history(REPO, 2)] == [
        payload("pull_request/opened")["pull_request"]["head"]["sha"],
        "b" * 40,
    ]


def test_infra_errors_are_retried_then_shown_neutral(make_settings: Any, github: GitHubStandIn) -> None:
    settings = make_settings(bot={"max_attempts": 2})
    fake(settings, status="infra_error")
    deliver(settings, "pull_request", payload("pull_request/opened"))
    queue = work(settings)
    [job] = queue.jobs()
    assert job.state == "infra_error"
    [run] = github.check_runs.values()
    assert run["conclusion"] == "neutral" and "not your submission" in run["output"]["summary"]
    calls = (Path(settings.data_dir) / "fake_grader_calls.jsonl").read_text().splitlines()
    assert len(calls) == 2
    [comment] = github.comments.values()
    assert "infrastructure" in comment["body"]


def test_a_transient_infra_error_then_success_is_graded(make_settings: Any, github: GitHubStandIn) -> None:
    settings = make_settings(bot={"max_attempts": 3})
    fake(settings, infra_failures=1)
    deliver(settings, "pull_request", payload("pull_request/opened"))
    [job] = work(settings).jobs()
    assert job.state == "posted" and job.outcome and job.outcome.status == "graded"
    assert len(github.check_runs) == 1 and len(github.comments) == 1


def test_rejected_submission_is_a_failure_with_the_reason(settings: Settings, github: GitHubStandIn) -> None:
    fake(settings, status="rejected")
    deliver(settings, "pull_request", payload("pull_request/opened"))
    work(settings)
    [run] = github.check_runs.values()
    assert run["conclusion"] == "failure" and "reproduce.sh" in run["output"]["title"]


def test_blacklist_violations_become_annotations(settings: Settings, github: GitHubStandIn) -> None:
    fake(settings, blacklist=True)
    deliver(settings, "pull_request", payload("pull_request/opened"))
    work(settings)
    [run] = github.check_runs.values()
    assert [(a["path"], a["start_line"]) for a in run["annotations"]] == [("train.py", 12)]


def test_unknown_paper_notice_is_a_completed_check(settings: Settings, github: GitHubStandIn) -> None:
    data = payload("pull_request/opened")
    data["pull_request"]["base"]["ref"] = "paper/nope"
    deliver(settings, "pull_request", data)
    work(settings)
    [run] = github.check_runs.values()
    assert run["status"] == "completed" and run["conclusion"] == "failure"
    assert "nope" in run["output"]["title"] and "paper/<id>" in run["output"]["summary"]
    assert github.comments == {}


def test_github_502_and_secondary_rate_limits_are_retried_without_double_posting(
    settings: Settings, github: GitHubStandIn
) -> None:
    github.fail("checks/create", 502)
    github.fail("checks/update", 502, times=2)
    github.fail("issues/create-comment", secondary_rate_limit=True, retry_after=0)
    github.fail("issues/list-comments", secondary_rate_limit=True, retry_after=0)
    deliver(settings, "pull_request", payload("pull_request/opened"))
    [job] = work(settings).jobs()
    assert job.state == "posted"
    assert len(github.check_runs) == 1 and len(github.comments) == 1
    assert any(status == 403 for *_, status in github.log) and any(status == 502 for *_, status in github.log)


def test_github_down_longer_than_retries_is_an_infra_retry_not_a_crash(
    make_settings: Any, github: GitHubStandIn
) -> None:
    settings = make_settings(github={"retries": 1}, bot={"max_attempts": 3})
    github.fail("issues/create-comment", 502, times=2)  # first job attempt gives up after 1 retry
    deliver(settings, "pull_request", payload("pull_request/opened"))
    [job] = work(settings).jobs()
    assert job.state == "posted" and len(github.comments) == 1 and len(github.check_runs) == 1


def test_superseded_job_closes_its_check_run(settings: Settings, github: GitHubStandIn) -> None:
    deliver(settings, "pull_request", payload("pull_request/opened"))
    queue = JobQueue(queue_path(settings))
    job = queue.claim("test")
    assert job is not None
    job_states(settings, queue).check_intended(job)
    cid = github_factory(settings)(None, REPO).create_check_run(
        REPO, name="reprobot", head_sha=job.head_sha, external_id=job.external_id, status="queued"
    )
    queue.release(job.id, "test")
    newer = payload("pull_request/synchronize")
    newer["pull_request"]["head"]["sha"] = "c" * 40
    deliver(settings, "pull_request", newer)
    work(settings)
    assert github.check_runs[cid]["conclusion"] == "cancelled"
    assert "Superseded" in github.check_runs[cid]["output"]["title"]


def _comment_payload(command: str) -> dict[str, Any]:
    data = json.loads((FIXTURES / "issue_comment/created.with-installation.payload.json").read_text())
    data["issue"]["number"] = 2
    data["issue"]["pull_request"] = {"url": "x"}
    data["comment"]["body"] = f"/reprobot {command}"
    return data


def test_command_from_a_reader_gets_a_polite_reply_and_starts_nothing(
    settings: Settings, github: GitHubStandIn
) -> None:
    github.set_permission(REPO, "Codertocat", "read")
    deliver(settings, "issue_comment", _comment_payload("rerun"))
    queue = work(settings)
    assert [j.kind for j in queue.jobs()] == ["command"]
    [reply] = github.comments.values()
    assert "write access" in reply["body"] and "Thanks" in reply["body"]
    assert github.reactions == []


def test_regrade_from_a_writer_reacts_and_judges_the_existing_reproduction(
    settings: Settings, github: GitHubStandIn
) -> None:
    opened = payload("pull_request/opened")
    github.add_pull(REPO, opened["pull_request"])
    github.set_permission(REPO, "Codertocat", "write")
    deliver(settings, "pull_request", opened)
    work(settings)
    first_dir = JobQueue(queue_path(settings)).jobs()[0].result_dir
    deliver(settings, "issue_comment", _comment_payload("regrade"))
    queue = work(settings)
    grade = queue.jobs(kind="grade")[0]
    assert grade.generation == 1 and grade.state == "posted"
    assert [r["content"] for r in github.reactions] == ["eyes"]
    calls = [
        json.loads(x) for x in (Path(settings.data_dir) / "fake_grader_calls.jsonl").read_text().splitlines()
    ]
    assert calls[-1]["reuse"] == first_dir
    assert len([c for c in github.comments.values() if COMMENT_MARKER in c["body"]]) == 1
    assert len(github.check_runs) == 2  # the regrade is a new check run


def test_code_dev_status_and_help_commands(settings: Settings, github: GitHubStandIn) -> None:
    opened = payload("pull_request/opened")
    github.add_pull(REPO, opened["pull_request"])
    github.set_permission(REPO, "Codertocat", "admin")
    for command in ("code-dev", "status", "help"):
        deliver(settings, "issue_comment", _comment_payload(command))
    queue = work(settings)
    [grade] = queue.jobs(kind="grade")
    assert grade.mode == "code-dev" and grade.state == "posted"
    bodies = [c["body"] for c in github.comments.values()]
    assert any("reprobot status" in b for b in bodies) and any("/reprobot regrade" in b for b in bodies)


def test_check_run_rerequested_reruns_the_job(settings: Settings, github: GitHubStandIn) -> None:
    deliver(settings, "pull_request", payload("pull_request/opened"))
    work(settings)
    [run_id] = github.check_runs
    rerequest = json.loads((FIXTURES / "check_run/rerequested.payload.json").read_text())
    rerequest["repository"]["full_name"] = REPO
    rerequest["check_run"]["id"] = run_id
    deliver(settings, "check_run", rerequest)
    [job] = work(settings).jobs()
    assert job.generation == 1 and job.state == "posted" and len(github.check_runs) == 2


def test_concurrent_jobs_of_one_pr_share_one_comment(make_settings: Any, github: GitHubStandIn) -> None:
    from bot.intake.actions import JobInfo, NewGrade
    from bot.intake.routing import rubric_version
    from judge.papers import PaperRegistry

    settings = make_settings(bot={"worker_concurrency": 3})
    registry = PaperRegistry(settings.papers.rubrics_dir, settings.papers.blacklists_dir)
    version = rubric_version(registry, "all-in-one")
    queue = JobQueue(queue_path(settings), lease_s=settings.bot.lease_s)
    sha = "d" * 40
    queue.apply(
        [
            NewGrade(REPO, 2, sha, "all-in-one", version, mode, 1, JobInfo(), False)
            for mode in ("full", "code-dev")
        ]
    )
    queue.apply([NewGrade(REPO, 3, sha, "all-in-one", version, "full", 1, JobInfo(), False)])
    Worker(settings, queue, build_grader(settings), github_factory(settings), poll_s=0.05).run(once=True)
    assert [j.state for j in queue.jobs()] == ["posted"] * 3
    assert len(github.check_runs) == 3
    assert sorted(c["issue"] for c in github.comments.values()) == [2, 3]
