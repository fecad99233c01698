"""Quotas that hold: a run counts against its submitter's day from the moment it is admitted (in
flight for hours, or dispatched), not only once graded; concurrent pushes of one submitter, taken by
concurrent worker loops, admit exactly the limit (one transaction decides); a run that ends without
a grade gives its place back; GitHub submitters are counted by numeric id (a rename keeps the count);
forge names are one person whatever their case and punctuation, or are bound to the pusher's
identity when the organizer configures it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from bot.cli import main
from bot.forge.api import clients_for, forge_submitter_key
from bot.forge.repo import ZERO_SHA, LocalForge
from bot.github.pygithub import github_factory
from bot.grading import GradeOutcome, GradeRequest, ProgressFn
from bot.jobs.queue import JobQueue
from bot.jobs.worker import Worker
from bot.settings import Settings, forge_path, queue_path
from tests.bot.conftest import payload
from tests.bot.fake_grader import FakeGrader
from tests.bot.test_bot_worker import deliver, fake
from tests.standins.github_server import GitHubStandIn


class GatedGrader(FakeGrader):
    """The fake grader, held inside ``grade`` until the test opens the gate (an 8-hour run)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.gate = threading.Event()
        self.inside = 0
        self.lock = threading.Lock()

    def grade(self, request: GradeRequest, out_dir: Path, progress: ProgressFn | None = None) -> GradeOutcome:
        with self.lock:
            self.inside += 1
        assert self.gate.wait(60), "the test never opened the gate"
        return super().grade(request, out_dir, progress)


def _pr(number: int, login: str = "Codertocat", user_id: int = 21031067) -> dict[str, Any]:
    data = payload("pull_request/opened")
    pr = data["pull_request"]
    pr["number"] = number
    pr["head"]["sha"] = f"{number:040x}"
    pr["user"].update(login=login, id=user_id)
    return data


def _until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def _statuses(queue: JobQueue) -> list[str | None]:
    return [j.outcome.status if j.outcome else None for j in queue.jobs(kind="grade")]


def test_concurrent_pushes_over_the_quota_admit_exactly_the_limit(
    make_settings: Any, github: GitHubStandIn
) -> None:
    settings = make_settings(quotas={"graded_runs_per_paper_per_day": 2})
    for number in range(1, 7):  # six pull requests of one submitter, all queued at once
        deliver(settings, "pull_request", _pr(number))
    queue = JobQueue(queue_path(settings), lease_s=settings.bot.lease_s)
    grader = GatedGrader(settings)
    worker = Worker(settings, queue, grader, github_factory(settings), poll_s=0.02)
    loops = threading.Thread(target=worker.run, kwargs={"once": True, "concurrency": 6})
    loops.start()
    _until(lambda: _statuses(queue).count("rejected") == 4 and grader.inside == 2, "4 refused, 2 running")
    grader.gate.set()
    loops.join(60)
    assert sorted(s or "" for s in _statuses(queue)) == ["graded"] * 2 + ["rejected"] * 4
    assert len((settings.data_dir / "fake_grader_calls.jsonl").read_text().splitlines()) == 2
    refused = [j for j in queue.jobs() if j.outcome and j.outcome.status == "rejected"]
    assert all("graded or in progress" in (j.outcome.message if j.outcome else "") for j in refused)
    assert {j.quota for j in queue.jobs()} == {"spent", ""}


def test_a_run_in_progress_counts_and_one_ending_without_a_grade_gives_its_place_back(
    make_settings: Any, github: GitHubStandIn
) -> None:
    settings = make_settings(quotas={"graded_runs_per_paper_per_day": 1}, bot={"max_attempts": 1})
    queue = JobQueue(queue_path(settings), lease_s=settings.bot.lease_s)
    fake(settings, status="infra_error")
    deliver(settings, "pull_request", _pr(1))
    grader = GatedGrader(settings)
    slow = Worker(settings, queue, grader, github_factory(settings), poll_s=0.02)
    first = threading.Thread(target=slow.run, kwargs={"once": True})
    first.start()
    _until(lambda: grader.inside == 1, "the first run is in progress")
    deliver(settings, "pull_request", _pr(2))  # pushed while the first run is still going
    Worker(settings, queue, FakeGrader(settings), github_factory(settings), poll_s=0.02).run(once=True)
    assert _statuses(queue) == [None, "rejected"]
    grader.gate.set()  # the long run ends with an infrastructure failure: not charged
    first.join(60)
    assert _statuses(queue) == ["infra_error", "rejected"]
    fake(settings)
    deliver(settings, "pull_request", _pr(3))
    Worker(settings, queue, FakeGrader(settings), github_factory(settings), poll_s=0.02).run(once=True)
    assert _statuses(queue) == ["infra_error", "rejected", "graded"]


def test_a_renamed_account_keeps_its_count(make_settings: Any, github: GitHubStandIn) -> None:
    settings = make_settings(quotas={"graded_runs_per_paper_per_day": 1})
    queue = JobQueue(queue_path(settings), lease_s=settings.bot.lease_s)

    def push(number: int, login: str, user_id: int) -> None:
        deliver(settings, "pull_request", _pr(number, login, user_id))
        Worker(settings, queue, FakeGrader(settings), github_factory(settings), poll_s=0.02).run(once=True)

    push(1, "Codertocat", 7)
    push(2, "Codertocat-renamed", 7)  # the same account, renamed: still counted
    push(3, "Codertocat", 8)  # someone else who took the freed name: a person of their own
    assert _statuses(queue) == ["graded", "rejected", "graded"]
    assert [j.info.submitter_key for j in queue.jobs()] == ["github:7", "github:7", "github:8"]


def test_reopening_a_pull_request_is_checked_again(make_settings: Any, github: GitHubStandIn) -> None:
    settings = make_settings(quotas={"graded_runs_per_paper_per_day": 1})
    queue = JobQueue(queue_path(settings), lease_s=settings.bot.lease_s)
    deliver(settings, "pull_request", _pr(1))
    deliver(settings, "pull_request", _pr(2))
    closed = _pr(2)
    closed["action"] = "closed"
    deliver(settings, "pull_request", closed)  # cancelled before any work
    Worker(settings, queue, FakeGrader(settings), github_factory(settings), poll_s=0.02).run(once=True)
    reopened = _pr(2)
    reopened["action"] = "reopened"
    deliver(settings, "pull_request", reopened)  # the participant's own: a new generation, charged
    Worker(settings, queue, FakeGrader(settings), github_factory(settings), poll_s=0.02).run(once=True)
    assert _statuses(queue) == ["graded", "rejected"]


def test_forge_names_are_one_person_whatever_their_case_and_punctuation() -> None:
    keys = {forge_submitter_key(name) for name in ("alice", "Alice", "alice_", "A.lice", "ALICE-")}
    assert keys == {"forge:alice"}
    assert forge_submitter_key("bob") != forge_submitter_key("alice")
    assert forge_submitter_key("alice", identity="key:SHA256:abc") == "forge-id:key:SHA256:abc"


def _forge_push(settings: Settings, config: Path, branch: str, env: dict[str, str] | None = None) -> str:
    forge = LocalForge(forge_path(settings))
    sha = forge.commit_files(branch, {"reproduce.sh": f"echo {branch}\n".encode()}, f"push {branch}")
    assert sha is not None
    result = CliRunner().invoke(
        main, ["--config", str(config), "forge", "hook", "--forge", str(forge.path)],
        input=f"{ZERO_SHA} {sha} refs/heads/{branch}\n", env=env or {},
    )  # fmt: skip
    return f"{result.exit_code}: {result.output}"


def _forge_settings(make_settings: Any, tmp_path: Path, **forge: Any) -> tuple[Settings, Path]:
    settings = make_settings(quotas={"graded_runs_per_paper_per_day": 1}, forge=forge)
    LocalForge(forge_path(settings)).init(["tiny-moons"])
    return settings, tmp_path / "reprobot.yaml"


def _forge_work(settings: Settings) -> JobQueue:
    queue = JobQueue(queue_path(settings), lease_s=settings.bot.lease_s)
    clients = clients_for(settings, github_factory)
    Worker(settings, queue, FakeGrader(settings), clients, poll_s=0.02).run(once=True)
    return queue


def test_on_the_forge_alice_underscore_is_alice(make_settings: Any, tmp_path: Path) -> None:
    settings, config = _forge_settings(make_settings, tmp_path)
    _forge_push(settings, config, "submit/tiny-moons/alice_")
    _forge_push(settings, config, "submit/tiny-moons/Alice")
    _forge_push(settings, config, "submit/tiny-moons/bob")
    queue = _forge_work(settings)
    assert _statuses(queue) == ["graded", "rejected", "graded"]


def test_on_the_forge_pushes_can_be_bound_to_the_pushers_identity(make_settings: Any, tmp_path: Path) -> None:
    settings, config = _forge_settings(make_settings, tmp_path, identity_env="REPROBOT_PUSHER")
    _forge_push(settings, config, "submit/tiny-moons/first-name", {"REPROBOT_PUSHER": "key-alice"})
    _forge_push(settings, config, "submit/tiny-moons/other-name", {"REPROBOT_PUSHER": "key-alice"})
    _forge_push(settings, config, "submit/tiny-moons/alice", {"REPROBOT_PUSHER": "key-bob"})
    refused = _forge_push(settings, config, "submit/tiny-moons/anon")
    assert refused.startswith("1:") and "no pusher identity" in refused
    queue = _forge_work(settings)
    assert _statuses(queue) == ["graded", "rejected", "graded"]
    assert [j.info.submitter_key for j in queue.jobs()] == ["forge-id:key-alice"] * 2 + ["forge-id:key-bob"]
    json.dumps([j.to_dict() for j in queue.jobs()])  # the records stay plain JSON
