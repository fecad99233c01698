"""Routing actions applied to the queue database, each inside the caller's transaction."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from bot.jobs.records import (
    ACTIVE_STATES,
    CANCELLED_STATES,
    WAITING_STATES,
    Action,
    CancelPR,
    JobInfo,
    NewCommand,
    NewGrade,
    NewNotice,
    RerunCheck,
    WorkflowDone,
    WorkflowRef,
)
from bot.jobs.schema import encode_columns, marks


def insert_job(db: sqlite3.Connection, now: float, **cols: Any) -> int:
    cols.setdefault("state", "queued")
    cols["created_at"] = cols["updated_at"] = now
    cols = encode_columns(cols)
    names = ", ".join(cols)
    cur = db.execute(f"INSERT INTO jobs ({names}) VALUES ({marks(list(cols))})", tuple(cols.values()))
    assert cur.lastrowid is not None
    return int(cur.lastrowid)


def apply_action(
    db: sqlite3.Connection, act: Action, delivery: str | None, now: float
) -> tuple[int | None, str]:
    """Apply one routing action inside the caller's transaction: (job id or None, a note)."""
    if isinstance(act, NewGrade):
        if act.supersede_others:
            db.execute(
                f"UPDATE jobs SET state = 'superseded', needs_close = check_intent, lease_expires = 0,"
                f" message = ?, updated_at = ? WHERE kind = 'grade' AND repo = ? AND pr = ?"
                f" AND head_sha != ?"
                f" AND state IN ({marks(ACTIVE_STATES + WAITING_STATES)})",
                (
                    f"superseded by {act.head_sha[:12]}",
                    now,
                    act.repo,
                    act.pr,
                    act.head_sha,
                    *ACTIVE_STATES,
                    *WAITING_STATES,
                ),
            )
        existing = db.execute(
            "SELECT id, state FROM jobs WHERE kind = 'grade' AND repo = ? AND pr = ? AND head_sha = ?"
            " AND rubric_version = ? AND mode = ?",
            (act.repo, act.pr, act.head_sha, act.rubric_version, act.mode),
        ).fetchone()
        if existing is not None:
            if existing["state"] in CANCELLED_STATES:  # reopened, or pushed back
                requeue_job(db, int(existing["id"]), now, reuse=False)
                return int(existing["id"]), f"requeued job {existing['id']}"
            return None, f"job {existing['id']} exists ({existing['state']})"
        jid = insert_job(
            db,
            now,
            kind="grade",
            repo=act.repo,
            pr=act.pr,
            head_sha=act.head_sha,
            paper=act.paper,
            rubric_version=act.rubric_version,
            mode=act.mode,
            installation_id=act.installation_id,
            info=act.info,
            delivery_id=delivery,
        )
        return jid, f"queued job {jid}"
    if isinstance(act, NewNotice):
        jid = insert_job(
            db,
            now,
            kind="notice",
            repo=act.repo,
            pr=act.pr,
            head_sha=act.head_sha,
            installation_id=act.installation_id,
            delivery_id=delivery,
            message=act.message,
            info=JobInfo(title=act.title, conclusion=act.conclusion),
        )
        return jid, f"notice job {jid}: {act.title}"
    if isinstance(act, NewCommand):
        jid = insert_job(
            db,
            now,
            kind="command",
            repo=act.repo,
            pr=act.pr,
            head_sha="",
            installation_id=act.installation_id,
            delivery_id=delivery,
            info=JobInfo(command=act.command, comment_id=act.comment_id, user=act.user),
        )
        return jid, f"command job {jid}: {act.command}"
    if isinstance(act, CancelPR):
        cur = db.execute(
            f"UPDATE jobs SET state = 'cancelled', needs_close = check_intent, lease_expires = 0,"
            f" message = ?, updated_at = ? WHERE kind = 'grade' AND repo = ? AND pr = ?"
            f" AND state IN ({marks(ACTIVE_STATES + WAITING_STATES)})",
            (act.reason, now, act.repo, act.pr, *ACTIVE_STATES, *WAITING_STATES),
        )
        return None, f"cancelled {cur.rowcount} job(s)"
    if isinstance(act, RerunCheck):
        row = db.execute(
            "SELECT id FROM jobs WHERE repo = ?"
            " AND (check_run_id = ? OR ? LIKE 'reprobot-job-' || id || '-g%')"
            " ORDER BY id DESC LIMIT 1",
            (act.repo, act.check_run_id, act.external_id),
        ).fetchone()
        if row is None:
            return None, f"no job for check run {act.check_run_id}"
        jid = int(row["id"])
        return (jid, f"rerun job {jid}") if requeue_job(db, jid, now, reuse=False) else (None, "busy")
    if isinstance(act, WorkflowDone):
        cur = db.execute(
            "UPDATE jobs SET state = 'judging', stage = 'judging', external = ?, lease_expires = 0,"
            " next_attempt_at = 0, updated_at = ? WHERE id = ? AND generation = ?"
            " AND state = 'dispatched'",
            (
                json.dumps(WorkflowRef(act.run_id, act.conclusion, act.repo).to_json()),
                now,
                act.job_id,
                act.generation,
            ),
        )
        return (
            (act.job_id, f"workflow run {act.run_id} done") if cur.rowcount else (None, "stale workflow run")
        )
    raise TypeError(f"unknown action {act!r}")  # pragma: no cover


def requeue_job(db: sqlite3.Connection, job_id: int, now: float, *, reuse: bool) -> bool:
    """Grade a finished job again under a new generation; False while it is still active."""
    row = db.execute("SELECT state, result_dir FROM jobs WHERE id = ?", (job_id,)).fetchone()
    if row is None or row["state"] in ACTIVE_STATES + WAITING_STATES:
        return False
    reuse_from = row["result_dir"] if reuse else None
    db.execute(
        "UPDATE jobs SET state = 'queued', stage = '', attempts = 0, next_attempt_at = 0,"
        " lease_owner = NULL,"
        " lease_expires = 0, generation = generation + 1, check_intent = 0, check_run_id = NULL,"
        " check_completed = 0, needs_close = 0, comment_done = 0, result_dir = NULL, outcome = NULL,"
        " external = NULL, message = '', reuse_from = ?, updated_at = ? WHERE id = ?",
        (reuse_from, now, job_id),
    )
    return True
