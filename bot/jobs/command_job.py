"""The worker's command job: carry out a ``/reprobot`` command from a PR comment.

The syntax (which words are commands, the help text) lives in ``bot.intake.commands``; this module
checks the commenter's permission, replies once (found again by a marker after a crash) and queues
the grading the command asks for, or settles an override (``override LEAF pass|fail REASON``, with
the command's argument text: ``bot.jobs.override_job``).
"""

from __future__ import annotations

from bot.github.api import GitHubAPI, create_once
from bot.intake.commands import HELP_TEXT, WRITE_PERMISSIONS
from bot.intake.routing import grade_actions_for_pr
from bot.jobs.override_job import override_command
from bot.jobs.queue import JobQueue
from bot.jobs.records import Job
from bot.settings import Settings
from judge.papers import PaperRegistry


def reply_marker(job: Job) -> str:
    return f"<!-- reprobot:reply:{job.id} -->"


def reply_once(gh: GitHubAPI, job: Job, text: str) -> None:
    """Post the command's reply, unless an earlier attempt already did (found by its marker)."""
    marker = reply_marker(job)
    if gh.find_comment(job.repo, job.pr, marker) is None:
        create_once(
            lambda: gh.create_comment(job.repo, job.pr, f"{marker}\n{text}"),
            lambda: gh.find_comment(job.repo, job.pr, marker),
        )


def status_text(queue: JobQueue, job: Job) -> str:
    rows = [j for j in queue.jobs(repo=job.repo, pr=job.pr, kind="grade")]
    if not rows:
        return "reprobot has no grading jobs for this pull request yet."
    lines = ["| job | head | mode | state | attempts | note |", "| --- | --- | --- | --- | --- | --- |"]
    for j in rows[-10:]:
        lines.append(
            f"| {j.id} | `{j.head_sha[:7]}` | {j.mode} | {j.state}{' (' + j.stage + ')' if j.stage else ''}"
            f" | {j.attempts} | {j.message[:80]} |"
        )
    return "**reprobot status**\n\n" + "\n".join(lines)


def run_command(
    job: Job, gh: GitHubAPI, queue: JobQueue, settings: Settings, registry: PaperRegistry, argument: str = ""
) -> str:
    """Carry out a command job; returns a one-line note for the job record. ``argument``: the text
    after the command word (``override`` reads its leaf, verdict and reason from it)."""
    command, user, comment_id = job.info.command or "help", job.info.user or "", job.info.comment_id
    if comment_id is None:
        return "ignored: command job without a comment"
    permission = gh.get_permission(job.repo, user)
    if permission not in WRITE_PERMISSIONS:
        reply_once(
            gh,
            job,
            f"Thanks for the interest, @{user}! `/reprobot {command}` can only be run by people with write "
            "access to this repository, so nothing was started. A maintainer can run it for you.",
        )
        return f"refused: {user} has {permission} permission"
    gh.add_reaction(job.repo, comment_id, "eyes")
    if command == "help":
        reply_once(gh, job, HELP_TEXT)
        return "help sent"
    if command == "status":
        reply_once(gh, job, status_text(queue, job))
        return "status sent"
    if command == "override":
        return override_command(job, gh, queue, settings, argument, lambda text: reply_once(gh, job, text))
    pr = gh.get_pull(job.repo, job.pr)
    head_sha = str(pr["head"]["sha"])
    if command in ("regrade", "rerun"):
        latest = queue.latest_grade(job.repo, job.pr)
        if latest is not None and latest.head_sha == head_sha:
            reuse = command == "regrade" and latest.result_dir is not None
            if queue.requeue(latest.id, reuse=reuse):
                return f"{command}: job {latest.id} queued again"
            reply_once(
                gh, job, f"Job {latest.id} is still running; try `/reprobot {command}` when it is done."
            )
            return f"{command}: job {latest.id} busy"
    mode = "code-dev" if command == "code-dev" else "full"
    routed = grade_actions_for_pr(
        pr, job.repo, job.installation_id, settings, registry, mode=mode, supersede=False,
        enforce_gates=False, by_maintainer=True,
    )  # fmt: skip
    if not routed.actions:
        reply_once(gh, job, f"Nothing to grade: {routed.note}.")
        return routed.note
    ids = queue.apply(routed.actions, source=f"command:{job.id}")
    if not ids and command == "code-dev":
        existing = queue.latest_grade(job.repo, job.pr, mode="code-dev")
        if existing is not None and queue.requeue(existing.id, reuse=False):
            return f"code-dev: job {existing.id} queued again"
    return f"{command}: queued {ids or 'nothing new'}"
