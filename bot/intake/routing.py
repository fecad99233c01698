"""Routing: a verified webhook delivery -> queue actions. Pure (reads only local paper files).

``pull_request`` opened/synchronize/reopened (and ready_for_review, labeled for the gates) against a
base branch matching ``bot.branch_pattern`` queues a grade of the head SHA; closed cancels. Problems
the participant can fix (unknown paper, oversized repository, deleted head repository) become a
completed check run with an actionable message. ``issue_comment`` ``/reprobot ...`` becomes a command
job (permission is checked by the worker, which holds the GitHub credentials). ``check_run``
rerequested reruns; ``workflow_run`` completed hands an Actions reproduction to the judge.
Everything else is acknowledged and ignored.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from bot.intake.actions import (
    CancelPR,
    JobInfo,
    NewCommand,
    NewGrade,
    NewNotice,
    RerunCheck,
    Routed,
    WorkflowDone,
)
from bot.intake.commands import parse_command
from bot.settings import Settings
from judge.errors import PaperNotFound
from judge.papers import PaperMissing, PaperRegistry, paper_caveats

PR_GRADE_ACTIONS = frozenset({"opened", "synchronize", "reopened", "ready_for_review", "labeled"})
RUN_NAME_RE = re.compile(r"^reprobot job (\d+) g(\d+)\b")


def github_id(value: object) -> int:
    """A number or id from a payload: an integer (or its decimal string) that fits in 64 bits."""
    number = int(value) if isinstance(value, int | str) and len(str(value)) <= 20 else None
    if number is None or not 0 <= number < 2**63:
        raise ValueError(f"{str(value)[:40]!r} is not a valid number or id")
    return number


def branch_regex(pattern: str) -> re.Pattern[str]:
    prefix, suffix = pattern.split("<paper-id>")
    return re.compile(
        "^" + re.escape(prefix) + r"(?P<paper>[A-Za-z0-9][A-Za-z0-9._-]*)" + re.escape(suffix) + "$"
    )


def paper_from_branch(settings: Settings, base_ref: str) -> str | None:
    m = branch_regex(settings.bot.branch_pattern).match(base_ref)
    return m.group("paper") if m else None


_VERSION_CACHE: dict[tuple[str, int, int], str] = {}


def rubric_version(registry: PaperRegistry, paper_id: str) -> str:
    """A short content hash of the paper's rubric.json: a rubric change is a new job."""
    path = registry.get(paper_id).folder / "rubric.json"
    st = path.stat()
    key = (str(path), st.st_mtime_ns, st.st_size)
    if key not in _VERSION_CACHE:
        _VERSION_CACHE[key] = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return _VERSION_CACHE[key]


def _installation(payload: dict[str, Any]) -> int | None:
    inst = payload.get("installation")
    return int(inst["id"]) if isinstance(inst, dict) and isinstance(inst.get("id"), int) else None


def grade_actions_for_pr(
    pr: dict[str, Any],
    repo: str,
    installation_id: int | None,
    settings: Settings,
    registry: PaperRegistry,
    *,
    mode: str = "full",
    supersede: bool = True,
    enforce_gates: bool = True,
) -> Routed:
    """What to do with a pull request object (webhook ``pull_request`` or REST ``GET pulls/N``)."""
    base_ref = str(pr.get("base", {}).get("ref", ""))
    paper_id = paper_from_branch(settings, base_ref)
    if paper_id is None:
        return Routed((), f"base branch {base_ref!r} is not a paper branch ({settings.bot.branch_pattern})")
    head = pr.get("head") or {}
    sha = str(head.get("sha", ""))
    number = github_id(pr["number"])
    if enforce_gates:
        if pr.get("draft") and settings.bot.draft_prs == "skip":
            return Routed((), "draft pull request (bot.draft_prs: skip)")
        labels = {str(lbl.get("name")) for lbl in pr.get("labels") or [] if isinstance(lbl, dict)}
        if settings.bot.label_gate and settings.bot.label_gate not in labels:
            return Routed((), f"label {settings.bot.label_gate!r} missing (bot.label_gate)")

    def notice(title: str, message: str, conclusion: str = "failure") -> Routed:
        return Routed((NewNotice(repo, number, sha, title, message, conclusion, installation_id),), title)

    try:
        paper = registry.get(paper_id)
        version = rubric_version(registry, paper_id)
    except PaperNotFound:
        known = ", ".join(registry.ids()[:20]) or "none configured"
        example = settings.bot.branch_pattern.replace("<paper-id>", "<id>")
        return notice(
            f"Unknown paper '{paper_id}'",
            f"This pull request targets `{base_ref}`, but reprobot has no paper `{paper_id}`. "
            f"Change the base branch to `{example}` for one of the known papers: {known}.",
        )
    try:
        paper_caveats(paper, settings.judge.allow_missing_paper)
    except PaperMissing as exc:  # the organizer's to fix, never the submitter's: neutral, not failure
        return notice(f"Paper '{paper_id}' cannot be graded yet", f"{exc}.", "neutral")
    head_repo = head.get("repo")
    if not isinstance(head_repo, dict):
        return notice(
            "Head repository unavailable",
            "The repository holding this pull request's head was deleted or is not accessible; "
            "push the submission to a repository reprobot can read and open the pull request again.",
        )
    size_kb = head_repo.get("size")
    limit_mb = settings.bot.max_repo_size_mb
    if isinstance(size_kb, int | float) and size_kb > limit_mb * 1024:
        return notice(
            "Repository too large",
            f"The head repository is {size_kb / 1024:.0f} MB; reprobot accepts at most {limit_mb:.0f} MB. "
            "Remove large files (datasets, checkpoints) from the history and download them in "
            "reproduce.sh instead, then push again.",
        )
    user = str((pr.get("user") or {}).get("login", ""))
    info = JobInfo(
        clone_url=_str_or_none(head_repo.get("clone_url")),
        head_ref=_str_or_none(head.get("ref")),
        head_repo=_str_or_none(head_repo.get("full_name")),
        submitter=user,
        html_url=_str_or_none(pr.get("html_url")),
        human_baseline=user in settings.bot.human_baseline_users,
        base_ref=base_ref,
    )
    action = NewGrade(repo, number, sha, paper.id, version, mode, installation_id, info, supersede)
    return Routed((action,), f"grade {repo}#{number} @ {sha[:12]} ({paper.id}, {mode})")


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def route(event: str, payload: dict[str, Any], settings: Settings, registry: PaperRegistry) -> Routed:
    action = payload.get("action")
    repo = str((payload.get("repository") or {}).get("full_name", ""))
    inst = _installation(payload)
    if event == "pull_request" and isinstance(payload.get("pull_request"), dict):
        pr = payload["pull_request"]
        if action == "closed":
            return Routed((CancelPR(repo, github_id(pr["number"]), "pull request closed"),), "closed")
        if action in PR_GRADE_ACTIONS:
            if action == "labeled" and (payload.get("label") or {}).get("name") != settings.bot.label_gate:
                return Routed((), "label is not the gate label")
            return grade_actions_for_pr(pr, repo, inst, settings, registry)
        return Routed((), f"pull_request.{action} ignored")
    if event == "issue_comment" and action == "created":
        issue, comment = payload.get("issue") or {}, payload.get("comment") or {}
        if "pull_request" not in issue:
            return Routed((), "comment on an issue, not a pull request")
        user = comment.get("user") or {}
        if user.get("type") == "Bot":
            return Routed((), "comment by a bot")
        command = parse_command(str(comment.get("body") or ""))
        if command is None:
            return Routed((), "no /reprobot command")
        return Routed(
            (
                NewCommand(
                    repo,
                    github_id(issue["number"]),
                    command,
                    github_id(comment["id"]),
                    str(user.get("login")),
                    inst,
                ),
            ),
            f"command {command}",
        )
    if event == "check_run" and action == "rerequested":
        run = payload.get("check_run") or {}
        app_id = (run.get("app") or {}).get("id")
        if settings.github.app_id is not None and app_id != settings.github.app_id:
            return Routed((), "check run of another app")
        return Routed(
            (RerunCheck(repo, github_id(run.get("id", 0)), str(run.get("external_id") or "")),), "rerun"
        )
    if event == "workflow_run" and action == "completed":
        run = payload.get("workflow_run") or {}
        want_repo = settings.dispatch.workflow_repository
        if want_repo is not None and repo != want_repo:
            return Routed((), "workflow run of another repository")
        if not str(run.get("path", "")).endswith(settings.dispatch.workflow_file):
            return Routed((), "not the reproduction workflow")
        m = RUN_NAME_RE.match(str(run.get("display_title") or run.get("name") or ""))
        if m is None:
            return Routed((), "workflow run not started by reprobot")
        done = WorkflowDone(
            int(m.group(1)), int(m.group(2)), github_id(run["id"]), run.get("conclusion"), repo
        )
        return Routed((done,), "workflow run completed")
    return Routed((), f"{event}.{action} ignored" if action else f"{event} ignored")
