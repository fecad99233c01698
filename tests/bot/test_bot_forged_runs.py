"""Only what the bot started can be graded: in ``actions`` mode a ``workflow_run`` completed event
hands a job to the judge only when it is the very run the bot dispatched (event
``workflow_dispatch``; repository and head repository, workflow path, ref, actor and the dispatch's
nonce all those recorded at dispatch). A signed run from another repository, a fork pull request's
run of a renamed workflow, a run on another branch or by another actor, a guessed nonce, or a stale
generation changes nothing (logged with its reason) and downloads nothing; the genuine run then
still counts and its artifact comes from the recorded repository only."""

from __future__ import annotations

import copy
import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from bot.github.api import GitHubAPI
from bot.github.pygithub import github_factory
from bot.intake.actions import NewGrade
from bot.jobs.dispatch import ActionsDispatcher
from bot.jobs.queue import JobQueue
from bot.jobs.records import DispatchRecord, Job, WorkflowRef
from bot.jobs.worker import Worker, build_grader
from bot.settings import Settings, queue_path
from tests.bot.conftest import payload
from tests.bot.test_bot_actions_and_auth import ArtifactFromDisk, deliver
from tests.bot.workflow_runs import genuine_run
from tests.standins.github_server import GitHubStandIn

OPS = "org/reprobot-ops"


def _dispatched(
    settings: Settings, clock: Any = time.time
) -> tuple[JobQueue, Worker, Job, list[tuple[str, int, str]]]:
    queue = JobQueue(queue_path(settings), lease_s=settings.bot.lease_s, clock=clock)
    deliver(settings, "pull_request", payload("pull_request/opened"))
    downloads: list[tuple[str, int, str]] = []
    real = github_factory(settings)

    def factory(installation: int | None, repo: str) -> GitHubAPI:
        return ArtifactFromDisk(real(installation, repo), downloads)  # type: ignore[return-value]

    worker = Worker(settings, queue, build_grader(settings), factory, poll_s=0.05)
    worker.run(once=True)
    [job] = queue.jobs()
    assert job.state == "dispatched" and job.dispatch is not None
    return queue, worker, job, downloads


def _retarget(data: dict[str, Any], repo: str, *, head: str | None = None) -> dict[str, Any]:
    out = copy.deepcopy(data)
    out["repository"]["full_name"] = repo
    out["workflow_run"]["repository"]["full_name"] = repo
    out["workflow_run"]["head_repository"]["full_name"] = head or repo
    return out


def _forgeries(job: Job) -> dict[str, dict[str, Any]]:
    real = genuine_run(job)
    run = real["workflow_run"]
    nonce = run["display_title"].rsplit(" ", 1)[1]
    forged: dict[str, dict[str, Any]] = {
        # the attacker's own repository, with the workflow renamed to ours and the same run-name
        "another-repository": _retarget(real, "attacker/reprobot-ops"),
        # a fork's pull request run in the organizer's repository (event pull_request, the fork's head)
        "fork-pull-request": _retarget(real, real["repository"]["full_name"], head="forker/reprobot-ops"),
        "guessed-nonce": copy.deepcopy(real),
        "other-ref": copy.deepcopy(real),
        "other-actor": copy.deepcopy(real),
        "other-workflow": copy.deepcopy(real),
        "stale-generation": copy.deepcopy(real),
        "no-nonce": copy.deepcopy(real),
    }
    fork = forged["fork-pull-request"]["workflow_run"]
    fork.update(event="pull_request", head_branch="add-reproduce")
    forged["guessed-nonce"]["workflow_run"]["display_title"] = f"reprobot job {job.id} g0 {'A' * len(nonce)}"
    forged["other-ref"]["workflow_run"]["head_branch"] = "evil-branch"
    forged["other-actor"]["workflow_run"]["actor"]["login"] = "someone-with-write-access"
    forged["other-workflow"]["workflow_run"]["path"] = ".github/workflows/evil/reproduce.yml"
    forged["stale-generation"]["workflow_run"]["display_title"] = f"reprobot job {job.id} g1 {nonce}"
    forged["no-nonce"]["workflow_run"]["display_title"] = f"reprobot job {job.id} g0"
    for i, data in enumerate(forged.values()):
        data["workflow_run"]["id"] = 900_000 + i
    return forged


@pytest.mark.parametrize("workflow_repository", [OPS, None])
def test_forged_workflow_runs_are_ignored_and_the_dispatched_one_counts(
    make_settings: Any, github: GitHubStandIn, caplog: pytest.LogCaptureFixture, workflow_repository: Any
) -> None:
    """With the workflow in the organizer's repository, and (None) in the pull request's own."""
    settings = make_settings(dispatch={"mode": "actions", "workflow_repository": workflow_repository})
    queue, worker, job, downloads = _dispatched(settings)
    assert job.dispatch is not None
    assert job.dispatch.repo == (workflow_repository or job.repo)
    forged = _forgeries(job)
    caplog.set_level(logging.WARNING, logger="reprobot.webhook")
    for name, data in forged.items():
        answer = deliver(settings, "workflow_run", data)
        assert answer["jobs"] == [], name
        assert "ignored" in answer["outcome"] or "stale" in answer["outcome"], (name, answer["outcome"])
        assert queue.get(job.id).state == "dispatched", name
    assert worker.run(once=True) == 0 and downloads == []  # nothing judged, nothing downloaded
    logged = [r.getMessage() for r in caplog.records]
    assert len([line for line in logged if "workflow run" in line]) == len(forged)
    outcomes = " | ".join(d.outcome for d in queue.deliveries())
    for reason in ("not workflow_dispatch", "nonce", "ref 'evil-branch'", "someone-with-write-access",
                   "evil/reproduce.yml", "stale"):  # fmt: skip
        assert reason in outcomes, reason

    real = genuine_run(queue.get(job.id))
    assert deliver(settings, "workflow_run", real)["jobs"] == [job.id]
    worker.run(once=True)
    assert queue.get(job.id).state == "posted"
    assert downloads == [(job.dispatch.repo, real["workflow_run"]["id"], "executed-submission")]


def test_a_replayed_run_of_an_earlier_dispatch_does_not_count(
    make_settings: Any, github: GitHubStandIn
) -> None:
    """A run dispatched earlier (its nonce seen in the run list) cannot stand in for the next
    dispatch of the same job: each dispatch has a fresh nonce."""
    settings = make_settings(dispatch={"mode": "actions", "workflow_repository": OPS, "timeout_s": 3600})
    now = [time.time()]
    queue, worker, job, _ = _dispatched(settings, clock=lambda: now[0])
    first = genuine_run(job)
    now[0] += 3601  # the queue's clock: the run never reported back
    worker.run(once=True)  # expired: dispatched again, with a new nonce
    again = queue.get(job.id)
    assert again.state == "dispatched" and again.dispatch is not None and len(github.dispatches) == 2
    assert again.dispatch.nonce != job.dispatch.nonce  # type: ignore[union-attr]
    assert deliver(settings, "workflow_run", first)["jobs"] == []
    assert deliver(settings, "workflow_run", genuine_run(again))["jobs"] == [job.id]


def test_the_download_goes_to_the_recorded_repository(tmp_path: Path) -> None:
    """The artifact's repository is the dispatch record's, never the event's."""
    asked: list[tuple[str, int]] = []

    class Recorder:
        def download_artifact(self, repo: str, run_id: int, name: str, dest: Path) -> Path:
            asked.append((repo, run_id))
            return dest

    settings = Settings(dispatch={"mode": "actions"})
    queue = JobQueue(tmp_path / "q.sqlite3")
    [jid] = queue.apply([NewGrade("o/r", 1, "a" * 40, "p", "v")])
    record = DispatchRecord("org/ops", ".github/workflows/reproduce.yml", "main", "n" * 32)
    forged_ref = WorkflowRef(5, "success", "attacker/x")
    row = dataclasses.replace(queue.get(jid), dispatch=record, external=forged_ref)
    ActionsDispatcher(settings).fetch(Recorder(), row, tmp_path / "out")  # type: ignore[arg-type]
    assert asked == [("org/ops", 5)]
