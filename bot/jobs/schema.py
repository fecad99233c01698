"""The queue database's schema and the encoding of its JSON columns."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
  delivery_id TEXT PRIMARY KEY,
  event TEXT NOT NULL,
  action TEXT,
  received_at REAL NOT NULL,
  outcome TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  repo TEXT NOT NULL,
  pr INTEGER NOT NULL,
  head_sha TEXT NOT NULL,
  rubric_version TEXT NOT NULL DEFAULT '',
  mode TEXT NOT NULL DEFAULT 'full',
  paper TEXT,
  installation_id INTEGER,
  info TEXT NOT NULL DEFAULT '{}',
  state TEXT NOT NULL,
  stage TEXT NOT NULL DEFAULT '',
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at REAL NOT NULL DEFAULT 0,
  lease_owner TEXT,
  lease_expires REAL NOT NULL DEFAULT 0,
  generation INTEGER NOT NULL DEFAULT 0,
  check_intent INTEGER NOT NULL DEFAULT 0,
  check_run_id INTEGER,
  check_completed INTEGER NOT NULL DEFAULT 0,
  needs_close INTEGER NOT NULL DEFAULT 0,
  comment_done INTEGER NOT NULL DEFAULT 0,
  result_dir TEXT,
  reuse_from TEXT,
  outcome TEXT,
  external TEXT,
  dispatch TEXT,
  quota_key TEXT,
  quota TEXT NOT NULL DEFAULT '',
  quota_day TEXT,
  message TEXT NOT NULL DEFAULT '',
  delivery_id TEXT,
  created_at REAL NOT NULL,
  updated_at REAL NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS jobs_grade_key
  ON jobs(repo, pr, head_sha, rubric_version, mode) WHERE kind = 'grade';
CREATE INDEX IF NOT EXISTS jobs_claim ON jobs(state, next_attempt_at);

CREATE TABLE IF NOT EXISTS pr_comments (
  repo TEXT NOT NULL, pr INTEGER NOT NULL, comment_id INTEGER NOT NULL, PRIMARY KEY (repo, pr)
);
CREATE TABLE IF NOT EXISTS history (
  job_id INTEGER NOT NULL, generation INTEGER NOT NULL, repo TEXT NOT NULL, pr INTEGER NOT NULL,
  head_sha TEXT NOT NULL, mode TEXT NOT NULL, score REAL NOT NULL, coverage REAL NOT NULL,
  finished_at TEXT NOT NULL, PRIMARY KEY (job_id, generation)
);
CREATE TABLE IF NOT EXISTS locks (name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires REAL NOT NULL);
"""

# Columns added after the first release: a queue written by an older version gains them on open.
ADDED_COLUMNS = (
    ("dispatch", "TEXT"),
    ("quota_key", "TEXT"),
    ("quota", "TEXT NOT NULL DEFAULT ''"),
    ("quota_day", "TEXT"),
)
INDEXES = "CREATE INDEX IF NOT EXISTS jobs_quota ON jobs(quota_key, paper, quota_day);"

JSON_COLUMNS = ("info", "outcome", "external", "dispatch")


def migrate(db: sqlite3.Connection) -> None:
    """Add the columns an older queue lacks (idempotent; two processes may race: both end equal)."""
    have = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}
    for column, ddl in ADDED_COLUMNS:
        if column not in have:
            try:
                db.execute(f"ALTER TABLE jobs ADD COLUMN {column} {ddl}")
            except sqlite3.OperationalError as exc:
                if "duplicate column" not in str(exc):
                    raise
    db.executescript(INDEXES)
BOOL_COLUMNS = ("check_intent", "check_completed", "needs_close", "comment_done")


def encode_columns(cols: dict[str, Any]) -> dict[str, Any]:
    """Typed records (``to_json``) and plain mappings in JSON columns become JSON text."""
    out = dict(cols)
    for key in JSON_COLUMNS:
        value = out.get(key)
        if value is None or isinstance(value, str):
            continue
        out[key] = json.dumps(value.to_json() if hasattr(value, "to_json") else value)
    return out


def marks(values: Sequence[object]) -> str:
    return ", ".join("?" for _ in values)
