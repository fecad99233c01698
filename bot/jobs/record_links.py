"""The links a graded job's ``submission.json`` carries (check run, report, leaderboard, the pass
threshold), so the report, the comment and the leaderboard can link everything without settings."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bot.jobs.records import Job
from bot.report.serve import served_results_url
from bot.settings import Settings, results_dir

_PR_URL = re.compile(r"^(https?://[^/\s]+)/[^/\s]+/[^/\s]+/pull/\d+$")


def check_run_url(job: Job) -> str | None:
    """GitHub's page of the job's check run (from the PR's address; none for the local forge)."""
    m = _PR_URL.match(job.info.html_url or "")
    if m is None or job.check_run_id is None:
        return None
    return f"{m.group(1)}/{job.repo}/runs/{job.check_run_id}"


def folder_url(settings: Settings, folder: Path) -> str | None:
    """Where ``folder/report.html`` is read: ``bot.report_base_url``, else ``reprobot serve``."""
    base = settings.bot.report_base_url or served_results_url(settings)
    if not base:
        return None
    root = results_dir(settings)
    rel = folder.relative_to(root) if folder.is_relative_to(root) else Path(folder.name)
    return f"{base.rstrip('/')}/{rel.as_posix()}/report.html"


def leaderboard_url(settings: Settings) -> str | None:
    if settings.leaderboard.url:
        return settings.leaderboard.url
    return f"{settings.bot.public_url.rstrip('/')}/leaderboard" if settings.bot.public_url else None


def record_links(settings: Settings, job: Job, folder: Path) -> dict[str, Any]:
    """Fields for ``SubmissionRecord`` (``dataclasses.replace``)."""
    return {
        "check_run_url": check_run_url(job),
        "report_url": folder_url(settings, folder),
        "leaderboard_url": leaderboard_url(settings),
        "pass_threshold": settings.bot.pass_threshold,
    }
