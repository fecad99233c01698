"""The durable job queue: SQLite in WAL mode, shared by ``reprobot serve`` and ``reprobot worker``.

One grade job per (repository, PR, head SHA, rubric version, mode). Its states and every change of
them are the state machine's (``bot.jobs.lifecycle``); this module holds the database: deliveries,
leases, reads, the per-PR comment and score history, and named locks. Workers take a job with a
lease they renew (heartbeat); a job whose worker died is taken again once its lease runs out, and
resumes from the last step it recorded.

Every side effect on GitHub is preceded by a recorded intent and followed by a recorded result
(check run id, comment id, flags), and each is findable on GitHub (check run ``external_id``,
hidden comment markers), so a crash between any two steps resumes without posting twice.

Webhook deliveries are recorded with their routing in one transaction: a delivery id seen before is
a duplicate, whatever happened to the first request after its commit.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from bot.intake.actions import Action, DeliveryResult, JobInfo
from bot.jobs.group_commit import GroupCommit
from bot.jobs.lifecycle import apply_action, requeue
from bot.jobs.records import (
    ACTIVE_STATES,
    Delivery,
    DispatchRecord,
    HistoryRow,
    Job,
    JobOutcome,
    WorkflowRef,
)
from bot.jobs.schema import BOOL_COLUMNS, SCHEMA, marks, migrate

_LOCKS: dict[str, threading.RLock] = {}
_LOCKS_GUARD = threading.Lock()


def _write_lock(path: Path) -> threading.RLock:
    """One writer lock per database file in this process, shared by every JobQueue opened on it."""
    key = str(path.resolve())
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.RLock())


class JobQueue:
    """All access to the queue database. Safe to share between threads (one connection per thread)."""

    def __init__(
        self, path: Path, *, lease_s: float = 120.0, clock: Any = time.time, busy_timeout_s: float = 30.0
    ) -> None:
        self.path = Path(path)
        self.lease_s = lease_s
        self.busy_timeout_s = busy_timeout_s
        self.clock = clock
        self._local = threading.local()
        self._write_lock = _write_lock(self.path)
        self._group = GroupCommit(self._conn, self._tx)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn().executescript(SCHEMA)
        migrate(self._conn())

    # -- connection -------------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path, timeout=self.busy_timeout_s, isolation_level=None, check_same_thread=False
            )
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")  # committed means on disk before we answer 202
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_s * 1000)}")
            self._local.conn = conn
        return conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, committed (fsync'd) on exit. Writers of this process take turns on
        an in-process lock first: they wake the moment the previous commit ends, instead of
        polling in SQLite's busy handler, whose sleeps made a burst's tail latency (other
        processes, e.g. the worker, still meet the busy handler)."""
        db = self._conn()
        with self._write_lock:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """One committed write transaction (the job state machine's, ``bot.jobs.lifecycle``)."""
        return self._tx()

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- webhook side -----------------------------------------------------------------------------
    def record_delivery(
        self, delivery_id: str, event: str, action: str | None, actions: Sequence[Action], note: str = ""
    ) -> DeliveryResult:
        """Store a delivery and apply its routing atomically; a delivery id seen before changes nothing.
        Committed (on disk) when this returns; concurrent deliveries share one commit."""
        now = self.clock()

        def write(db: sqlite3.Connection) -> DeliveryResult:
            seen = db.execute(
                "SELECT outcome FROM deliveries WHERE delivery_id = ?", (delivery_id,)
            ).fetchone()
            if seen is not None:
                return DeliveryResult(True, seen["outcome"])
            job_ids: list[int] = []
            notes: list[str] = [note] if note else []
            for act in actions:
                jid, text = apply_action(db, act, delivery_id, now)
                notes.append(text)
                if jid is not None:
                    job_ids.append(jid)
            outcome = "; ".join(notes) or "ignored"
            db.execute(
                "INSERT INTO deliveries (delivery_id, event, action, received_at, outcome)"
                " VALUES (?,?,?,?,?)",
                (delivery_id, event, action, now, outcome),
            )
            return DeliveryResult(False, outcome, tuple(job_ids))

        result: DeliveryResult = self._group.run(write)
        return result

    def apply(self, actions: Sequence[Action], source: str = "") -> list[int]:
        """Apply routing actions outside a webhook delivery (PR commands run by the worker)."""
        now = self.clock()
        ids: list[int] = []
        with self._tx() as db:
            for act in actions:
                jid, _ = apply_action(db, act, source or None, now)
                if jid is not None:
                    ids.append(jid)
        return ids

    def requeue(self, job_id: int, *, reuse: bool) -> bool:
        """Grade a finished job again (``reuse``: judge the existing reproduction). False when busy."""
        with self._tx() as db:
            return requeue(db, job_id, self.clock(), reuse=reuse)

    # -- worker side ------------------------------------------------------------------------------
    def claim(self, owner: str) -> Job | None:
        now = self.clock()
        with self._tx() as db:
            row = db.execute(
                f"SELECT * FROM jobs WHERE (state IN ({marks(ACTIVE_STATES)}) OR needs_close = 1)"
                " AND lease_expires <= ? AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT 1",
                (*ACTIVE_STATES, now, now),
            ).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE jobs SET lease_owner = ?, lease_expires = ?, updated_at = ? WHERE id = ?",
                (owner, now + self.lease_s, now, row["id"]),
            )
        return self.get(int(row["id"]))

    def heartbeat(self, job_id: int, owner: str) -> bool:
        now = self.clock()
        with self._tx() as db:
            cur = db.execute(
                "UPDATE jobs SET lease_expires = ? WHERE id = ? AND lease_owner = ?",
                (now + self.lease_s, job_id, owner),
            )
            return cur.rowcount == 1

    def release(self, job_id: int, owner: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE jobs SET lease_owner = NULL, lease_expires = 0 WHERE id = ? AND lease_owner = ?",
                (job_id, owner),
            )

    def get(self, job_id: int) -> Job:
        row = self._conn().execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise KeyError(job_id)
        return row_to_job(row)

    def jobs(self, *, repo: str | None = None, pr: int | None = None, kind: str | None = None) -> list[Job]:
        sql, args = "SELECT * FROM jobs WHERE 1=1", []
        for col, val in (("repo", repo), ("pr", pr), ("kind", kind)):
            if val is not None:
                sql += f" AND {col} = ?"
                args.append(val)
        return [row_to_job(r) for r in self._conn().execute(sql + " ORDER BY id", args)]

    def latest_grade(self, repo: str, pr: int, mode: str | None = None) -> Job | None:
        sql = "SELECT * FROM jobs WHERE kind = 'grade' AND repo = ? AND pr = ?"
        args: list[Any] = [repo, pr]
        if mode is not None:
            sql += " AND mode = ?"
            args.append(mode)
        row = self._conn().execute(sql + " ORDER BY id DESC LIMIT 1", args).fetchone()
        return row_to_job(row) if row else None

    def deliveries(self) -> list[Delivery]:
        rows = self._conn().execute("SELECT * FROM deliveries ORDER BY received_at")
        return [Delivery(**dict(r)) for r in rows]

    def counts(self) -> dict[str, int]:
        rows = self._conn().execute("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state")
        return {r["state"]: int(r["n"]) for r in rows}

    def pending(self) -> int:
        """Jobs a worker could still take (now or after a retry delay), or that need closing."""
        row = (
            self._conn()
            .execute(
                f"SELECT COUNT(*) FROM jobs WHERE state IN ({marks(ACTIVE_STATES)}) OR needs_close = 1",
                ACTIVE_STATES,
            )
            .fetchone()
        )
        return int(row[0])

    # -- per-PR comment and history ---------------------------------------------------------------
    def comment_id(self, repo: str, pr: int) -> int | None:
        row = (
            self._conn()
            .execute("SELECT comment_id FROM pr_comments WHERE repo = ? AND pr = ?", (repo, pr))
            .fetchone()
        )
        return int(row[0]) if row else None

    def set_comment_id(self, repo: str, pr: int, comment_id: int) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO pr_comments (repo, pr, comment_id) VALUES (?,?,?)"
                " ON CONFLICT (repo, pr) DO UPDATE SET comment_id = excluded.comment_id",
                (repo, pr, comment_id),
            )

    def add_history(self, job: Job, score: float, coverage: float, finished_at: str) -> None:
        """Record a finished grade of the PR; recorded again (an override rescored it), its score and
        coverage change and its time stays."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO history (job_id, generation, repo, pr, head_sha, mode, score,"
                " coverage, finished_at) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (job_id, generation)"
                " DO UPDATE SET score = excluded.score, coverage = excluded.coverage",
                (
                    job.id,
                    job.generation,
                    job.repo,
                    job.pr,
                    job.head_sha,
                    job.mode,
                    score,
                    coverage,
                    finished_at,
                ),
            )

    def history(self, repo: str, pr: int) -> list[HistoryRow]:
        rows = self._conn().execute(
            "SELECT * FROM history WHERE repo = ? AND pr = ? ORDER BY finished_at, job_id, generation",
            (repo, pr),
        )
        return [HistoryRow(**dict(r)) for r in rows]

    # -- a named lock with a lease (one comment writer per PR across worker processes) ------------
    def try_lock(self, name: str, owner: str, ttl_s: float) -> bool:
        now = self.clock()
        with self._tx() as db:
            row = db.execute("SELECT owner, expires FROM locks WHERE name = ?", (name,)).fetchone()
            if row is not None and row["owner"] != owner and row["expires"] > now:
                return False
            db.execute(
                "INSERT INTO locks (name, owner, expires) VALUES (?,?,?)"
                " ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires = excluded.expires",
                (name, owner, now + ttl_s),
            )
            return True

    def unlock(self, name: str, owner: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM locks WHERE name = ? AND owner = ?", (name, owner))


def row_to_job(row: sqlite3.Row) -> Job:
    data = dict(row)
    data["info"] = JobInfo.from_json(json.loads(data["info"]) if data["info"] else None)
    data["outcome"] = JobOutcome.from_json(json.loads(data["outcome"])) if data["outcome"] else None
    data["external"] = WorkflowRef.from_json(json.loads(data["external"])) if data["external"] else None
    data["dispatch"] = DispatchRecord.from_json(json.loads(data["dispatch"])) if data["dispatch"] else None
    for key in BOOL_COLUMNS:
        data[key] = bool(data[key])
    return Job(**data)
