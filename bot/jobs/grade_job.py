"""A grade job's steps, each committed before the next, so a worker killed anywhere resumes without
posting twice:

``check_created`` (check run queued) -> ``in_progress`` (fetching / reproducing / judging, or
``dispatched`` to a GPU runner) -> ``graded`` (the Grader's outcome stored) -> ``check_completed``
(success / failure by ``bot.pass_threshold``; neutral for infrastructure trouble) ->
``comment_posted`` -> ``posted``. Every change of the job's state is a named transition of
``bot.jobs.lifecycle`` (``ctx.states``), which also holds the attempts rule: infrastructure failures
are retried with backoff up to ``bot.max_attempts``, then shown as neutral, never as a low score.

The submission record (``submission.json``) is written here, before any report is rendered, with
the links the report, the comment and the leaderboard show (check run, report, leaderboard).
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.github.api import GitHubError
from bot.grading import GradeOutcome, Grader, GradeRequest, ProgressFn
from bot.jobs.check_runs import close_if_cancelled, complete_check, ensure_check_run, show_stage
from bot.jobs.comment import post_comment
from bot.jobs.context import JobContext
from bot.jobs.dispatch import ActionsDispatcher
from bot.jobs.lifecycle import Retry
from bot.jobs.publish import publish_leaderboard
from bot.jobs.quota import quota_refusal
from bot.jobs.records import FETCHING, REPRODUCING, STAGE_STATES, Job, JobCancelled, JobOutcome
from bot.report.serve import served_results_url
from bot.results import REPORT_HTML, ResultFolder, SubmissionRecord, finished_reproduction
from bot.settings import Settings, results_dir
from judge.papers import PaperMissing

_PR_URL = re.compile(r"^(https?://[^/\s]+)/[^/\s]+/[^/\s]+/pull/\d+$")


def run_folder(settings: Settings, repo: str, pr: int, job_id: int, generation: int) -> Path:
    """Where a grade job's generation writes its result folder."""
    return results_dir(settings) / repo.replace("/", "__") / f"pr{pr}" / f"job{job_id}-g{generation}"


def result_folder(settings: Settings, job: Job) -> Path:
    return run_folder(settings, job.repo, job.pr, job.id, job.generation)


def history_url_of(settings: Settings, job: Job) -> Callable[[int, int], str | None]:
    """The report URL of an earlier run of ``job``'s PR (job id, generation), when it has one."""

    def url(job_id: int, generation: int) -> str | None:
        folder = run_folder(settings, job.repo, job.pr, job_id, generation)
        return folder_url(settings, folder) if ResultFolder(folder).grade.is_file() else None  # was graded

    return url


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
    return f"{base.rstrip('/')}/{rel.as_posix()}/{REPORT_HTML}"


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


def report_url(settings: Settings, job: Job) -> str | None:
    return folder_url(settings, Path(job.result_dir)) if job.result_dir else None


def submission_record(job: Job) -> SubmissionRecord:
    return SubmissionRecord(
        paper_id=job.paper,
        submitter=job.info.submitter,
        repository=job.repo,
        pr_number=job.pr,
        head_sha=job.head_sha,
        mode=job.mode,
        human_baseline=job.info.human_baseline,
        url=job.info.html_url,
        graded_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def stored_outcome(outcome: GradeOutcome, *, final: bool = False) -> JobOutcome:
    """The Grader's outcome as the queue keeps it; a score left out is read from the judge summary."""
    record = JobOutcome.from_grade(outcome, final=final)
    if record.graded and record.score is None:
        summary = ResultFolder(Path(outcome.result_dir)).read_summary()
        if summary is not None:
            record = replace(record, score=summary.score, coverage=summary.coverage)
    return record


class GradeJob:
    def __init__(self, ctx: JobContext, grader: Grader, dispatcher: ActionsDispatcher | None) -> None:
        self.ctx = ctx
        self.grader = grader
        self.dispatcher = dispatcher

    @property
    def settings(self) -> Settings:
        return self.ctx.settings

    def run(self, job: Job) -> None:
        ctx = self.ctx
        if job.cancelled:
            close_if_cancelled(ctx, job)
            return
        job = ensure_check_run(ctx, job)
        if job.outcome is None:
            job = self._grade(job)
            if job.outcome is None:  # dispatched to Actions, or retry scheduled
                return
        outcome = job.outcome
        assert outcome is not None
        retry = ctx.states.next_retry(job) if outcome.infra_error and not outcome.final else None
        if retry is not None:
            self.retry_infra(job, retry, outcome.message)
            return
        job = ctx.states.still_wanted(job.id)
        url = report_url(self.settings, job)
        if not job.check_completed:
            complete_check(ctx, job, url)
            job = ctx.states.check_completed(job)
            ctx.step("check_completed", job)
        if not job.comment_done:
            post_comment(ctx, job, url, history_url_of(self.settings, job))
            job = ctx.states.comment_posted(job)
            ctx.step("comment_posted", job)
        if outcome.graded:
            publish_leaderboard(ctx, job)  # best effort: never fails the job
        ctx.states.done(job, outcome)
        ctx.step("posted", job)

    def retry_infra(self, job: Job, retry: Retry, message: str) -> None:
        show_stage(
            self.ctx,
            job,
            "Infrastructure problem, retrying",
            f"Attempt {retry.attempt} of {self.settings.bot.max_attempts} hit an infrastructure problem "
            f"(not your submission's fault): {message}. Retrying in {retry.delay_s:.0f} s.",
            status="queued",
        )
        self.ctx.states.retry_infra(job, retry, message)

    def _progress(self, job: Job) -> ProgressFn:
        last_stage, last_at = [""], [0.0]
        states, every_s = self.ctx.states, self.settings.bot.progress_every_s

        def progress(stage: str, detail: str) -> None:
            if stage in STAGE_STATES and not states.enter_stage(job.id, stage, detail[:200]):
                raise JobCancelled()
            now = time.monotonic()
            if stage != last_stage[0] and stage in STAGE_STATES:
                self.ctx.step(f"stage_{stage}", job)  # the audit trail of a job's stages
            if stage != last_stage[0] or now - last_at[0] >= every_s:
                last_stage[0], last_at[0] = stage, now
                show_stage(self.ctx, job, stage.capitalize(), detail or stage)

        return progress

    def _dispatch(self, job: Job, out_dir: Path) -> Path | None:
        """Reproduction on a GPU runner: start the workflow (None), or fetch what it reproduced."""
        assert self.dispatcher is not None
        ctx = self.ctx
        if job.external is None:
            if not ctx.states.enter_stage(job.id, REPRODUCING, "dispatched to a GPU runner"):
                raise JobCancelled()
            record = self.dispatcher.record(job)
            job = ctx.states.dispatch_intended(job, record)  # on record before the run can report back
            self.dispatcher.start(ctx.gh, job, record)
            show_stage(
                ctx,
                job,
                "Reproducing on a GPU runner",
                "The reproduction workflow was dispatched; waiting for a runner.",
            )
            ctx.states.dispatched(job)
            ctx.step("dispatched", job)
            return None
        if job.external.conclusion != "success":
            raise GitHubError(
                f"reproduction workflow run {job.external.run_id} concluded {job.external.conclusion}"
            )
        if out_dir.exists():
            shutil.rmtree(out_dir)
        return self.dispatcher.fetch(ctx.gh, job, out_dir.parent / f"{out_dir.name}-executed")

    def _clone_auth(self, job: Job) -> str | None:
        """A short-lived token for a private head repository on GitHub (https clone URLs only)."""
        url = job.info.clone_url or ""
        return self.ctx.gh.clone_auth(job.info.head_repo or job.repo) if url.startswith("https://") else None

    def _grade(self, job: Job) -> Job:
        ctx = self.ctx
        assert job.check_run_id is not None
        out_dir = result_folder(self.settings, job)
        reuse: Path | None = Path(job.reuse_from) if job.reuse_from else None
        refusal = quota_refusal(self.settings, ctx.states, job)
        if refusal is not None:  # answered like a rejection: a clear check run and comment, no grade
            return ctx.states.reporting(job, JobOutcome("rejected", refusal, final=True))
        if self.dispatcher is not None and reuse is None:
            reuse = self._dispatch(job, out_dir)
            if reuse is None:
                return ctx.queue.get(job.id)
        if reuse is None and finished_reproduction(out_dir):
            reuse = out_dir  # resumed after the run: judge it again (the leaf cache keeps paid leaves)
        if not ctx.states.enter_stage(job.id, FETCHING, "fetching the submission"):
            raise JobCancelled()
        show_stage(ctx, job, "Fetching", f"Fetching `{job.head_sha[:12]}`.")
        ctx.step("in_progress", job)
        if out_dir.exists() and reuse != out_dir:
            shutil.rmtree(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        record = replace(submission_record(job), **record_links(self.settings, job, out_dir))
        record.write(out_dir)  # before any report is rendered
        request = GradeRequest(
            submission=f"{job.info.clone_url or job.repo}@{job.head_sha}",
            paper=str(job.paper),
            code_dev=job.mode == "code-dev",
            submitter=job.info.submitter,
            reuse_reproduction=reuse,
            fetch_auth=self._clone_auth(job) if reuse is None else None,
        )
        try:
            outcome = self.grader.grade(request, out_dir, self._progress(job))
        except PaperMissing as exc:  # the organizer's to fix: neutral at once, never a retried failure
            outcome = GradeOutcome("infra_error", f"the paper cannot be graded yet: {exc}", out_dir)
            return ctx.states.reporting(job, stored_outcome(outcome, final=True), str(out_dir))
        ctx.states.still_wanted(job.id)
        final = False
        if outcome.status == "infra_error":
            retry = ctx.states.next_retry(job)
            if retry is not None:
                self.retry_infra(job, retry, outcome.message)
                return ctx.queue.get(job.id)
            final = True
        job = ctx.states.reporting(job, stored_outcome(outcome, final=final), str(out_dir))
        ctx.step("graded", job)
        return job
