"""Every link a report, comment or note offers: PR, commit, check run, log, leaderboard, report.

Only plain http(s) URLs become links (anything else from a result folder is untrusted text). The
run's log and metadata are linked relative to the report, which lives beside them in the result
folder, both on disk and when ``reprobot serve`` serves the folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.report.model import ReportContext
from bot.results import JUDGE_SUMMARY, REPRODUCE_LOG, RUN_METADATA

_UNSAFE = re.compile(r"[\s<>()\[\]\"'`\\]")
_PR_URL = re.compile(r"^(https?://[^/]+)/([^/]+/[^/]+)/pull/(\d+)$")


def safe_url(url: Any) -> str | None:
    """``url`` when it is a plain http(s) URL safe in Markdown and HTML attributes, else None."""
    if not isinstance(url, str) or not url.startswith(("https://", "http://")) or _UNSAFE.search(url):
        return None
    return url


@dataclass(frozen=True, slots=True)
class Link:
    key: str  # pr | commit | check | log | metadata | judge | leaderboard | report
    label: str
    url: str
    download: bool = False


def commit_url(pr_url: str | None, sha: str | None) -> str | None:
    """The commit's page on the forge that serves the PR (GitHub's layout)."""
    if not pr_url or not sha or not re.fullmatch(r"[0-9a-f]{7,40}", sha):
        return None
    m = _PR_URL.match(pr_url)
    if m is None:
        return None
    host, repo = m.group(1), m.group(2)  # a PR's commits are reachable in the PR's repository
    return safe_url(f"{host}/{repo}/commit/{sha}")


def report_links(ctx: ReportContext, *, report_url: str | None = None, local: bool = True) -> list[Link]:
    """The links of this result folder, in reading order. ``local``: also the folder's own files."""
    sub = ctx.submission
    out: list[Link] = []
    pr = safe_url(sub.url) if sub else None
    if pr:
        label = f"Pull request #{sub.pr_number}" if sub and sub.pr_number is not None else "Pull request"
        out.append(Link("pr", label, pr))
    commit = commit_url(pr, sub.head_sha) if sub else None
    if commit and sub and sub.head_sha:
        out.append(Link("commit", f"Commit {sub.head_sha[:7]}", commit))
    check = safe_url(sub.check_run_url) if sub else None
    if check:
        out.append(Link("check", "Check run", check))
    if local:
        if (ctx.result_dir / REPRODUCE_LOG).is_file():
            out.append(Link("log", REPRODUCE_LOG, REPRODUCE_LOG, download=True))
        if (ctx.result_dir / RUN_METADATA).is_file():
            out.append(Link("metadata", RUN_METADATA, RUN_METADATA, download=True))
        if (ctx.result_dir / JUDGE_SUMMARY).is_file():
            out.append(Link("judge", JUDGE_SUMMARY, JUDGE_SUMMARY, download=True))
    board = safe_url(sub.leaderboard_url) if sub else None
    if board:
        out.append(Link("leaderboard", "Leaderboard", board))
    report = safe_url(report_url) or (safe_url(sub.report_url) if sub else None)
    if report and not local:
        out.append(Link("report", "Full report", report))
    return out


def run_attempts(ctx: ReportContext) -> int | None:
    """How many times the reproduction ran (PaperBench's salvage retries), when metadata.json says."""
    return len(ctx.run.attempts) or None if ctx.run is not None else None
