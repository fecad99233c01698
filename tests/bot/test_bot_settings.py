"""The bot's configuration: documented defaults, one clear error naming the key, secrets from env only.

Also guards the queue's durability settings (WAL) and the `reprobot jobs` / `serve` command edges.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bot.cli import main
from bot.errors import ConfigError
from bot.intake.actions import NewGrade
from bot.jobs.queue import JobQueue
from bot.settings import load_settings, queue_path, results_dir

ROOT = Path(__file__).resolve().parents[2]


def _load(tmp_path: Path, data: object) -> object:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_settings(path, {})


def test_defaults() -> None:
    s = load_settings(None, {})
    assert s.bot.branch_pattern == "paper/<paper-id>"
    assert s.bot.pass_threshold is None  # issue 22: no failure line unless an organizer sets one
    assert s.dispatch.mode == "local" and s.bot.draft_prs == "skip" and s.bot.label_gate is None
    assert queue_path(s) == s.data_dir / "queue.sqlite3" and results_dir(s) == s.data_dir / "results"


@pytest.mark.parametrize(
    "data,key",
    [
        ({"bot": {"pass_threshold": 2}}, "bot.pass_threshold"),
        ({"bot": {"branch_pattern": "paper/main"}}, "bot.branch_pattern"),
        ({"bot": {"draft_prs": "maybe"}}, "bot.draft_prs"),
        ({"bot": {"worker_concurency": 2}}, "bot.worker_concurency"),
        ({"dispatch": {"mode": "cloud"}}, "dispatch.mode"),
        ({"dispatch": {"workflow_repository": "no-slash"}}, "dispatch.workflow_repository"),
        ({"github": {"app_id": "abc"}}, "github.app_id"),
        ({"bot": {"grader": "no_colon"}}, "bot.grader"),
    ],
)
def test_a_bad_config_is_one_error_naming_the_key(tmp_path: Path, data: object, key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        _load(tmp_path, data)


def test_secrets_come_from_the_environment_only(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="secrets"):
        _load(tmp_path, {"secrets": {"webhook_secret": "x"}})
    s = load_settings(
        None, {"REPROBOT_WEBHOOK_SECRET": "s3cr3t-value", "REPROBOT_GITHUB_APP_PRIVATE_KEY": "k"}
    )
    assert (
        s.secrets.webhook_secret is not None and s.secrets.webhook_secret.get_secret_value() == "s3cr3t-value"
    )
    assert "s3cr3t-value" not in s.model_dump_json() + repr(s)


def test_documented_reference_names_every_bot_key() -> None:
    doc = (ROOT / "docs/CONFIG.md").read_text()
    s = load_settings(None, {})
    for section in ("bot", "dispatch", "github", "leaderboard", "quotas"):
        for key in type(getattr(s, section)).model_fields:
            assert f"`{key}`" in doc, f"{section}.{key} undocumented"


def test_queue_is_wal_and_one_grade_per_key(tmp_path: Path) -> None:
    q = JobQueue(tmp_path / "q.sqlite3")
    act = NewGrade("o/r", 1, "a" * 40, "p", "v1")
    assert q.apply([act, act]) == [1]
    assert len(q.apply([NewGrade("o/r", 1, "a" * 40, "p", "v2")])) == 1  # a new rubric version is a new job
    assert len(q.apply([NewGrade("o/r", 1, "a" * 40, "p", "v2", mode="code-dev")])) == 1
    mode = sqlite3.connect(tmp_path / "q.sqlite3").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_lease_expiry_lets_another_worker_take_a_job(tmp_path: Path) -> None:
    now = [1000.0]
    q = JobQueue(tmp_path / "q.sqlite3", lease_s=10, clock=lambda: now[0])
    q.apply([NewGrade("o/r", 1, "a" * 40, "p", "v")])
    assert q.claim("w1") is not None and q.claim("w2") is None
    now[0] += 5
    assert q.heartbeat(1, "w1") and q.claim("w2") is None
    now[0] += 11
    job = q.claim("w2")
    assert job is not None and job.lease_owner == "w2"
    assert not q.heartbeat(1, "w1")  # the dead worker lost it


def test_serve_without_webhook_secret_is_one_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["serve"], env={"REPROBOT_WEBHOOK_SECRET": ""})
    assert result.exit_code == 1 and "REPROBOT_WEBHOOK_SECRET" in result.output


def test_jobs_lists_the_queue(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"data_dir": str(tmp_path / "d")}))
    JobQueue(tmp_path / "d" / "queue.sqlite3").apply([NewGrade("o/r", 7, "a" * 40, "p", "v")])
    result = CliRunner().invoke(main, ["--config", str(cfg), "jobs"])
    assert result.exit_code == 0 and "o/r#7" in result.output and "queued" in result.output
