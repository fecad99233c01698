"""Routing: a verified webhook delivery -> queue actions. Pure (reads only local paper files).

``pull_request`` opened/synchronize/reopened (and ready_for_review, labeled for the gates) against a
base branch matching ``bot.branch_pattern`` queues a grade of the head SHA; closed cancels. Problems
the participant can fix (unknown paper, oversized repository, deleted head repository) become a
completed check run with an actionable message. ``issue_comment`` ``/reprobot ...`` becomes a command
job (permission is checked by the worker, which holds the GitHub credentials). ``check_run``
rerequested reruns; ``workflow_run`` completed hands an Actions reproduction to the judge, but only a
run the bot itself dispatched (``dispatch_claim``). Everything else is acknowledged and ignored.

Every field is read through ``bot.intake.fields``: a value GitHub would never send (a lone
surrogate, an over-long name, a SHA that is no SHA) raises ``PayloadError``, answered 400.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from bot.intake import fields as f
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
from bot.intake.commands import MAX_SCAN_CHARS, parse_command
from bot.settings import Settings, dispatch_actor
from judge.errors import PaperNotFound
from judge.papers import PaperMissing, PaperRegistry, paper_caveats

PR_GRADE_ACTIONS = frozenset({"opened", "synchronize", "reopened", "ready_for_review", "labeled"})
# the run-name of reprobot's workflow: "reprobot job <id> g<generation> <nonce>" (bot.jobs.dispatch)
RUN_NAME_RE = re.compile(r"^reprobot job (\d{1,18}) g(\d{1,9}) ([A-Za-z0-9_-]{16,64})$")
CONCLUSION_RE = re.compile(r"^[a-z_]{1,32}$")
WORKFLOWS_DIR = ".github/workflows/"


def github_id(value: object) -> int:
    """A number or id from a payload: an integer (or its decimal string) that fits in 64 bits."""
    return f.github_id(value)


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


def _installation(payload: Mapping[str, Any]) -> int | None:
    return f.optional_id(f.obj(payload.get("installation"), "installation").get("id"), "installation.id")


def paper_notice(
    settings: Settings, registry: PaperRegistry, paper_id: str, base_ref: str
) -> tuple[str, str, str] | None:
    """(title, message, conclusion) when ``paper_id`` cannot be graded here, else None: an unknown
    paper is the submitter's to fix (failure); a paper without paper.md the organizer's (neutral)."""
    try:
        paper = registry.get(paper_id)
    except PaperNotFound:
        known = ", ".join(registry.ids()[:20]) or "none configured"
        example = settings.bot.branch_pattern.replace("<paper-id>", "<id>")
        return (
            f"Unknown paper '{paper_id}'",
            f"This submission targets `{base_ref}`, but reprobot has no paper `{paper_id}`. "
            f"Change the base branch to `{example}` for one of the known papers: {known}.",
            "failure",
        )
    try:
        paper_caveats(paper, settings.judge.allow_missing_paper)
    except PaperMissing as exc:  # the organizer's to fix, never the submitter's: neutral, not failure
        return f"Paper '{paper_id}' cannot be graded yet", f"{exc}.", "neutral"
    return None


def grade_actions_for_pr(
    pr: Mapping[str, Any],
    repo: str,
    installation_id: int | None,
    settings: Settings,
    registry: PaperRegistry,
    *,
    mode: str = "full",
    supersede: bool = True,
    enforce_gates: bool = True,
    by_maintainer: bool = False,
) -> Routed:
    """What to do with a pull request object (webhook ``pull_request`` or REST ``GET pulls/N``);
    ``by_maintainer``: ordered by a maintainer's command, never charged to the quota."""
    base = f.obj(pr.get("base"), "pull_request.base")
    base_ref = f.git_ref(base.get("ref"), "pull_request.base.ref")
    paper_id = paper_from_branch(settings, base_ref)
    if paper_id is None:
        return Routed((), f"base branch {base_ref!r} is not a paper branch ({settings.bot.branch_pattern})")
    head = f.obj(pr.get("head"), "pull_request.head")
    sha = f.commit_sha(head.get("sha"), "pull_request.head.sha")
    number = f.github_id(pr.get("number"), "pull_request.number")
    if enforce_gates:
        if pr.get("draft") is True and settings.bot.draft_prs == "skip":
            return Routed((), "draft pull request (bot.draft_prs: skip)")
        raw_labels = pr.get("labels") or []
        if not isinstance(raw_labels, list):
            raise f.PayloadError("pull_request.labels is not a list")
        labels = {
            f.text(lbl.get("name"), "label.name", 200) for lbl in raw_labels[:100] if isinstance(lbl, dict)
        }
        if settings.bot.label_gate and settings.bot.label_gate not in labels:
            return Routed((), f"label {settings.bot.label_gate!r} missing (bot.label_gate)")

    def notice(title: str, message: str, conclusion: str = "failure") -> Routed:
        return Routed((NewNotice(repo, number, sha, title, message, conclusion, installation_id),), title)

    problem = paper_notice(settings, registry, paper_id, base_ref)
    if problem is not None:
        return notice(*problem)
    paper = registry.get(paper_id)
    version = rubric_version(registry, paper_id)
    head_repo = head.get("repo")
    if not isinstance(head_repo, dict):
        return notice(
            "Head repository unavailable",
            "The repository holding this pull request's head was deleted or is not accessible; "
            "push the submission to a repository reprobot can read and open the pull request again.",
        )
    size_kb = head_repo.get("size")
    limit_mb = settings.bot.max_repo_size_mb
    if isinstance(size_kb, int | float) and not isinstance(size_kb, bool) and size_kb > limit_mb * 1024:
        return notice(
            "Repository too large",
            f"The head repository is {size_kb / 1024:.0f} MB; reprobot accepts at most {limit_mb:.0f} MB. "
            "Remove large files (datasets, checkpoints) from the history and download them in "
            "reproduce.sh instead, then push again.",
        )
    user = f.obj(pr.get("user"), "pull_request.user")
    login = f.login(user.get("login"), "pull_request.user.login")
    user_id = f.optional_id(user.get("id"), "pull_request.user.id")
    info = JobInfo(
        clone_url=f.url(head_repo.get("clone_url"), "head.repo.clone_url"),
        head_ref=f.git_ref(head.get("ref"), "head.ref") if head.get("ref") is not None else None,
        head_repo=f.repo_name(head_repo.get("full_name"), "head.repo.full_name")
        if head_repo.get("full_name") is not None
        else None,
        submitter=login,
        submitter_key=f"github:{user_id}" if user_id is not None else f"github-login:{login.lower()}",
        html_url=f.url(pr.get("html_url"), "pull_request.html_url"),
        human_baseline=login in settings.bot.human_baseline_users,
        base_ref=base_ref,
    )
    action = NewGrade(
        repo, number, sha, paper.id, version, mode, installation_id, info, supersede, by_maintainer
    )
    return Routed((action,), f"grade {repo}#{number} @ {sha[:12]} ({paper.id}, {mode})")


def route(event: str, payload: dict[str, Any], settings: Settings, registry: PaperRegistry) -> Routed:
    event = f.name(event, "X-GitHub-Event")
    raw_action = payload.get("action")
    action = f.name(raw_action, "action") if raw_action is not None else None
    repository = f.obj(payload.get("repository"), "repository")
    repo, inst = "", None
    if event in ("pull_request", "issue_comment", "check_run", "workflow_run"):
        repo = f.repo_name(repository.get("full_name"))
        inst = _installation(payload)
    if event == "pull_request" and isinstance(payload.get("pull_request"), dict):
        pr = payload["pull_request"]
        if action == "closed":
            number = f.github_id(pr.get("number"), "pull_request.number")
            return Routed((CancelPR(repo, number, "pull request closed"),), "closed")
        if action in PR_GRADE_ACTIONS:
            label = f.obj(payload.get("label"), "label").get("name")
            if action == "labeled" and label != settings.bot.label_gate:
                return Routed((), "label is not the gate label")
            return grade_actions_for_pr(pr, repo, inst, settings, registry)
        return Routed((), f"pull_request.{action} ignored")
    if event == "issue_comment" and action == "created":
        issue = f.obj(payload.get("issue"), "issue")
        comment = f.obj(payload.get("comment"), "comment")
        if "pull_request" not in issue:
            return Routed((), "comment on an issue, not a pull request")
        user = f.obj(comment.get("user"), "comment.user")
        if user.get("type") == "Bot":
            return Routed((), "comment by a bot")
        body = comment.get("body")
        if not isinstance(body, str):
            return Routed((), "no /reprobot command")
        command = parse_command(f.text(body[:MAX_SCAN_CHARS], "comment.body", MAX_SCAN_CHARS, control=True))
        if command is None:
            return Routed((), "no /reprobot command")
        act = NewCommand(
            repo,
            f.github_id(issue.get("number"), "issue.number"),
            command.word,
            f.github_id(comment.get("id"), "comment.id"),
            f.login(user.get("login"), "comment.user.login"),
            inst,
            command.argument,
        )
        return Routed((act,), f"command {command.word}")
    if event == "check_run" and action == "rerequested":
        run = f.obj(payload.get("check_run"), "check_run")
        app_id = f.obj(run.get("app"), "check_run.app").get("id")
        if settings.github.app_id is not None and app_id != settings.github.app_id:
            return Routed((), "check run of another app")
        external = f.text(run.get("external_id") or "", "check_run.external_id", 200)
        return Routed((RerunCheck(repo, f.github_id(run.get("id", 0), "check_run.id"), external),), "rerun")
    if event == "workflow_run" and action == "completed":
        return workflow_done(repo, f.obj(payload.get("workflow_run"), "workflow_run"), settings)
    return Routed((), f"{event}.{action} ignored" if action else f"{event} ignored")


def workflow_done(repo: str, run: Mapping[str, Any], settings: Settings) -> Routed:
    """A completed run counts only when it is the reproduction workflow the bot dispatched: started by
    ``workflow_dispatch`` by the bot's own account, of the configured workflow file on the configured
    ref in the workflow repository (the run's own repository and head repository, not a fork), with
    the run-name carrying the job and the dispatch's nonce. The queue then compares repository,
    workflow, ref and nonce with what it recorded at dispatch (``bot.jobs.lifecycle``). Anything else
    is ignored, the reason kept as the delivery's outcome (and logged by the webhook)."""
    d = settings.dispatch
    if d.mode != "actions":
        return Routed((), "workflow run ignored: dispatch.mode is not actions")
    event = run.get("event")
    if event != "workflow_dispatch":
        shown = f.text(event, "workflow_run.event", 100) if event is not None else None
        return Routed((), f"workflow run ignored: event {shown!r} is not workflow_dispatch")
    if d.workflow_repository is not None and repo != d.workflow_repository:
        return Routed((), f"workflow run ignored: repository {repo} is not {d.workflow_repository}")
    for key in ("repository", "head_repository"):
        other = f.obj(run.get(key), f"workflow_run.{key}").get("full_name")
        if other != repo:
            return Routed((), f"workflow run ignored: its {key} is not {repo} (a fork's run)")
    path = f.text(run.get("path"), "workflow_run.path", 300)
    if path != WORKFLOWS_DIR + d.workflow_file:
        want = WORKFLOWS_DIR + d.workflow_file
        return Routed((), f"workflow run ignored: workflow {path!r} is not {want}")
    ref = f.git_ref(run.get("head_branch"), "workflow_run.head_branch")
    want_ref = d.workflow_ref.removeprefix("refs/heads/").removeprefix("refs/tags/")
    if ref != want_ref:
        return Routed((), f"workflow run ignored: ref {ref!r} is not {want_ref!r}")
    actor = f.obj(run.get("actor"), "workflow_run.actor")
    login = f.login(actor.get("login"), "workflow_run.actor.login")
    expected = dispatch_actor(settings)
    if expected is not None and login.lower() != expected.lower():
        return Routed((), f"workflow run ignored: started by {login}, not by {expected}")
    if expected is None and (actor.get("type") != "Bot" or not login.endswith("[bot]")):
        return Routed((), f"workflow run ignored: started by {login}, not by a GitHub App")
    title = f.text(run.get("display_title") or "", "workflow_run.display_title", 300)
    m = RUN_NAME_RE.match(title)
    if m is None:
        return Routed((), "workflow run ignored: its name carries no reprobot job and nonce")
    conclusion = run.get("conclusion")
    if conclusion is not None and not (isinstance(conclusion, str) and CONCLUSION_RE.match(conclusion)):
        raise f.PayloadError("workflow_run.conclusion is not a conclusion")
    done = WorkflowDone(
        int(m.group(1)),
        int(m.group(2)),
        f.github_id(run.get("id"), "workflow_run.id"),
        conclusion,
        repo,
        nonce=m.group(3),
        workflow=path,
        ref=ref,
    )
    return Routed((done,), "workflow run completed")
