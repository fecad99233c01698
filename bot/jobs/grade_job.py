"""A grade job's steps, each committed before the next, so a worker killed anywhere resumes without
posting twice:

``check_created`` (check run queued) -> ``in_progress`` (fetching / reproducing / judging, or
``dispatched`` to a GPU runner) -> ``graded`` (the Grader's outcome stored) -> ``check_completed``
(success / failure by ``bot.pass_threshold``; neutral for infrastructure trouble) ->
``comment_posted`` -> ``posted``. Infrastructure failures are retried with backoff up to
``bot.max_attempts``, then shown as neutral, never as a low score.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from bot.github.api import GitHubError
from bot.github.dispatch import ActionsDispatcher
from bot.grading import GradeOutcome, Grader, GradeRequest, ProgressFn
from bot.jobs.check_runs import close_if_cancelled, complete_check, ensure_check_run, show_stage
from bot.jobs.comment import post_comment
from bot.jobs.context import JobContext
from bot.jobs.publish import publish_leaderboard
from bot.jobs.quota import quota_refusal
from bot.jobs.record_links import folder_url, record_links
from bot.jobs.records import Job, JobCancelled, JobOutcome
from bot.jobs.retry import backoff_delay
from bot.results import ResultFolder, SubmissionRecord, finished_reproduction
from bot.settings import Settings, results_dir

STAGE_STATES = ("fetching", "reproducing", "judging")


def result_folder(settings: Settings, job: Job) -> Path:
    return (
        results_dir(settings) / job.repo.replace("/", "__") / f"pr{job.pr}" / f"job{job.id}-g{job.generation}"
    )


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
    summary = ResultFolder(Path(outcome.result_dir)).judge_summary
    if record.graded and record.score is None and summary.is_file():
        data = json.loads(summary.read_text(encoding="utf-8"))
        record = replace(record, score=data.get("score"), coverage=data.get("coverage"))
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
        if outcome.infra_error and job.attempts + 1 < self.settings.bot.max_attempts and not outcome.final:
            self.retry_infra(job, outcome.message)
            return
        job = ctx.still_wanted(job.id)
        url = report_url(self.settings, job)
        if not job.check_completed:
            complete_check(ctx, job, url)
            job = ctx.queue.update(job.id, check_completed=1)
            ctx.step("check_completed", job)
        if not job.comment_done:
            post_comment(ctx, job, url)
            job = ctx.queue.update(job.id, comment_done=1)
            ctx.step("comment_posted", job)
        if outcome.graded:
            publish_leaderboard(ctx, job)  # best effort: never fails the job
        final = "infra_error" if outcome.infra_error else "posted"
        ctx.queue.update(job.id, state=final, stage="", message=outcome.message[:500])
        ctx.step("posted", job)

    def retry_infra(self, job: Job, message: str) -> None:
        attempts = job.attempts + 1
        delay = backoff_delay(self.settings.bot.retry_backoff_s, attempts)
        show_stage(
            self.ctx,
            job,
            "Infrastructure problem, retrying",
            f"Attempt {attempts} of {self.settings.bot.max_attempts} hit an infrastructure problem "
            f"(not your submission's fault): {message}. Retrying in {delay:.0f} s.",
            status="queued",
        )
        self.ctx.queue.update(
            job.id,
            state="queued",
            stage="",
            attempts=attempts,
            outcome=None,
            external=None,
            next_attempt_at=time.time() + delay,
            message=f"infra retry {attempts}: {message}"[:500],
        )

    def _progress(self, job: Job) -> ProgressFn:
        last_stage, last_at = [""], [0.0]
        queue, every_s = self.ctx.queue, self.settings.bot.progress_every_s

        def progress(stage: str, detail: str) -> None:
            if stage in STAGE_STATES and not queue.set_stage(job.id, stage, detail[:200]):
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
            if not ctx.queue.set_stage(job.id, "reproducing", "dispatched to a GPU runner"):
                raise JobCancelled()
            self.dispatcher.start(ctx.gh, job)
            show_stage(
                ctx,
                job,
                "Reproducing on a GPU runner",
                "The reproduction workflow was dispatched; waiting for a runner.",
            )
            ctx.queue.update(job.id, state="dispatched", stage="waiting for a GPU runner")
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
        refusal = quota_refusal(self.settings, ctx.queue, job)
        if refusal is not None:  # answered like a rejection: a clear check run and comment, no grade
            refused = JobOutcome("rejected", refusal, final=True)
            return ctx.queue.update(job.id, state="reporting", outcome=refused)
        if self.dispatcher is not None and reuse is None:
            reuse = self._dispatch(job, out_dir)
            if reuse is None:
                return ctx.queue.get(job.id)
        if reuse is None and finished_reproduction(out_dir):
            reuse = out_dir  # resumed after the run: judge it again (the leaf cache keeps paid leaves)
        if not ctx.queue.set_stage(job.id, "fetching", "fetching the submission"):
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
        outcome = self.grader.grade(request, out_dir, self._progress(job))
        ctx.still_wanted(job.id)
        final = False
        if outcome.status == "infra_error":
            if job.attempts + 1 < self.settings.bot.max_attempts:
                self.retry_infra(job, outcome.message)
                return ctx.queue.get(job.id)
            final = True
        job = ctx.queue.update(
            job.id,
            state="reporting",
            stage="",
            outcome=stored_outcome(outcome, final=final),
            result_dir=str(out_dir),
        )
        ctx.step("graded", job)
        return job
