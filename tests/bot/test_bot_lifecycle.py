"""One job state machine: only ``bot/jobs/lifecycle.py`` changes a job's state, attempts, flags or
outcome (the queue writes leases only, and nothing calls an ``update(**cols)``); the attempts rule
is one function that the worker's error path, a grade's infrastructure retry and the expiry of
dispatched runs all follow; and ``next_attempt_at`` is written with the queue's clock, the clock
``claim`` compares it with (a fake clock moves both)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from bot.intake.actions import NewGrade
from bot.jobs.lifecycle import JobStates, retry_left
from bot.jobs.queue import JobQueue
from bot.jobs.records import DISPATCHED, FAILED, QUEUED, REPORTING, JobOutcome

ROOT = Path(__file__).resolve().parents[2]
LIFECYCLE = ROOT / "bot" / "jobs" / "lifecycle.py"
LEASE_COLUMNS = {"lease_owner", "lease_expires", "updated_at"}


def _queue(tmp_path: Path, now: list[float]) -> JobQueue:
    return JobQueue(tmp_path / "q.sqlite3", lease_s=10, clock=lambda: now[0])


def test_only_the_state_machine_writes_a_jobs_row() -> None:
    outside = [p for p in (ROOT / "bot").rglob("*.py") if p != LIFECYCLE]
    writes: list[str] = []
    for path in outside:
        text = path.read_text(encoding="utf-8")
        for m in re.finditer(r"UPDATE jobs SET (.*?) WHERE", text, re.S):
            columns = set(re.findall(r"(\w+)\s*=", m.group(1)))
            if not columns <= LEASE_COLUMNS:
                writes.append(f"{path.relative_to(ROOT)}: {sorted(columns - LEASE_COLUMNS)}")
        if "INSERT INTO jobs" in text:
            writes.append(f"{path.relative_to(ROOT)}: INSERT")
        for node in ast.walk(ast.parse(text)):  # no update(**cols) anywhere but the state machine
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "update"
                and any(k.arg is None for k in node.keywords)
            ):
                writes.append(f"{path.relative_to(ROOT)}:{node.lineno}: update(**...)")
    assert not writes, writes
    assert not hasattr(JobQueue, "update") and not hasattr(JobQueue, "set_stage")


def test_the_attempts_rule() -> None:
    assert [retry_left(n, 3) for n in (1, 2, 3, 4)] == [True, True, False, False]
    assert not retry_left(1, 1)  # max_attempts 1: no retry at all


def test_next_attempt_at_uses_the_queues_clock(tmp_path: Path) -> None:
    now = [1_000_000.0]
    queue = _queue(tmp_path, now)
    states = JobStates(queue, max_attempts=3, backoff_s=30.0)
    [jid] = queue.apply([NewGrade("o/r", 1, "a" * 40, "p", "v")])
    job = queue.claim("w")
    assert job is not None
    queue.release(jid, "w")
    job = states.after_error(job, "docker daemon unreachable")
    assert (job.state, job.attempts, job.next_attempt_at) == (QUEUED, 1, now[0] + 30.0)
    assert queue.claim("w") is None  # not due on the queue's clock
    now[0] += 29
    assert queue.claim("w") is None
    now[0] += 1
    job = queue.claim("w")
    assert job is not None and job.id == jid
    queue.release(jid, "w")
    job = states.after_error(job, "again")
    assert (job.attempts, job.next_attempt_at) == (2, now[0] + 60.0)  # doubled
    job = states.after_error(job, "and again")  # the third attempt failed: no retry left
    assert job.state == REPORTING and job.outcome is not None and job.outcome.final
    assert job.outcome.infra_error and "and again" in job.outcome.message


def test_a_grade_retry_and_a_notice_follow_the_same_rule(tmp_path: Path) -> None:
    now = [500.0]
    queue = _queue(tmp_path, now)
    states = JobStates(queue, max_attempts=2, backoff_s=5.0)
    [jid] = queue.apply([NewGrade("o/r", 1, "a" * 40, "p", "v")])
    job = queue.get(jid)
    retry = states.next_retry(job)
    assert retry is not None and (retry.attempt, retry.delay_s) == (1, 5.0)
    job = states.retry_infra(job, retry, "judge endpoint down")
    assert (job.state, job.attempts, job.next_attempt_at, job.outcome) == (QUEUED, 1, 505.0, None)
    assert states.next_retry(job) is None  # attempt 2 of 2 would be the last
    assert states.retry_now(jid) and queue.get(jid).next_attempt_at == 0


def test_a_job_that_is_not_a_grade_fails_when_attempts_run_out(tmp_path: Path) -> None:
    from bot.intake.actions import NewCommand

    now = [0.0]
    queue = _queue(tmp_path, now)
    states = JobStates(queue, max_attempts=1, backoff_s=1.0)
    [jid] = queue.apply([NewCommand("o/r", 1, "status", 7, "alice")])
    job = states.after_error(queue.get(jid), "GitHub said 502")
    assert (job.state, job.attempts, job.message) == (FAILED, 1, "GitHub said 502")


def test_expiry_of_dispatched_runs_follows_the_rule_and_the_clock(tmp_path: Path) -> None:
    now = [100.0]
    queue = _queue(tmp_path, now)
    states = JobStates(queue, max_attempts=2, backoff_s=1.0)
    [jid] = queue.apply([NewGrade("o/r", 1, "a" * 40, "p", "v")])
    job = states.dispatched(queue.get(jid))
    assert job.state == DISPATCHED
    assert states.expire_dispatched(timeout_s=60) == []  # not yet, on the queue's clock
    now[0] += 61
    assert states.expire_dispatched(timeout_s=60) == [jid]
    job = queue.get(jid)
    assert (job.state, job.attempts) == (QUEUED, 1) and "dispatching again" in job.message
    states.dispatched(job)
    now[0] += 61
    assert states.expire_dispatched(timeout_s=60) == [jid]
    job = queue.get(jid)
    assert job.state == REPORTING and job.attempts == 2
    assert job.outcome == JobOutcome("infra_error", job.outcome.message, final=True)
    assert "did not report back within 60 s" in job.outcome.message
