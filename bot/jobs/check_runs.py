"""The job's check run: created once (found again by ``external_id`` after a crash), moved through
its stages, completed with a conclusion, or closed when the job was cancelled.

The conclusion says whether the submission was graded, not whether it scored well: ``success`` when
graded (the score is the result, in the title), ``neutral`` when it could not be graded for
infrastructure reasons, ``failure`` only below an organizer's ``bot.pass_threshold`` or when the
blacklist policy ``fail`` blocked or zeroed the submission (and for a rejected submission)."""

from __future__ import annotations

from pathlib import Path

from bot.github.api import Annotation, AnnotationLevel, CheckRunOutput, create_once
from bot.jobs.context import JobContext
from bot.jobs.records import Job, JobOutcome
from bot.report import render_check_output
from bot.report.annotations import annotations_for
from bot.results import ResultFolder

QUEUED = CheckRunOutput("Queued", "Waiting for a worker.")


def ensure_check_run(
    ctx: JobContext,
    job: Job,
    *,
    status: str = "queued",
    output: CheckRunOutput = QUEUED,
    conclusion: str | None = None,
) -> Job:
    """The job's check run id, creating the check run unless an earlier attempt did."""
    if job.check_run_id is not None:
        return job
    name = ctx.settings.bot.check_name
    found = None
    if job.check_intent:  # a previous attempt may have created it before crashing
        found = ctx.gh.find_check_run(job.repo, job.head_sha, job.external_id, name)
    else:
        job = ctx.states.check_intended(job)
    if found is None:
        found = create_once(
            lambda: ctx.gh.create_check_run(
                job.repo,
                name=name,
                head_sha=job.head_sha,
                external_id=job.external_id,
                status=status,
                output=output,
                conclusion=conclusion,
            ),
            lambda: ctx.gh.find_check_run(job.repo, job.head_sha, job.external_id, name),
            backoff_s=ctx.settings.github.backoff_s,
        )
        ctx.step("check_posted", job)  # created on GitHub, id not yet recorded
    job = ctx.states.check_created(job, found)
    ctx.step("check_created", job)
    return job


def show_stage(ctx: JobContext, job: Job, title: str, summary: str, status: str = "in_progress") -> None:
    if job.check_run_id is not None:
        ctx.gh.update_check_run(
            job.repo, job.check_run_id, status=status, output=CheckRunOutput(title, summary)
        )


def close_if_cancelled(ctx: JobContext, job: Job) -> None:
    if not job.needs_close:
        return
    run_id = job.check_run_id or ctx.gh.find_check_run(
        job.repo, job.head_sha, job.external_id, ctx.settings.bot.check_name
    )
    if run_id is not None:
        title = "Superseded by a newer push" if job.state == "superseded" else "Cancelled"
        ctx.gh.update_check_run(
            job.repo,
            run_id,
            status="completed",
            conclusion="cancelled",
            output=CheckRunOutput(title, job.message or title),
        )
    ctx.states.check_closed(job)


def graded_conclusion(score: float, threshold: float | None, result_dir: Path) -> str:
    """A graded submission's conclusion (see the module's text)."""
    blacklist = ResultFolder(result_dir).read_blacklist()
    if blacklist is not None and (blacklist.blocked or blacklist.score_zero):
        return "failure"
    return "failure" if threshold is not None and score < threshold - 1e-9 else "success"


def conclusion_and_output(ctx: JobContext, job: Job, report_url: str | None) -> tuple[str, CheckRunOutput]:
    outcome = job.outcome or JobOutcome("infra_error", "no outcome recorded")
    if outcome.graded and job.result_dir:
        score = outcome.score or 0.0
        conclusion = graded_conclusion(score, ctx.settings.bot.pass_threshold, Path(job.result_dir))
        rendered = render_check_output(Path(job.result_dir), report_url=report_url)
        output = CheckRunOutput(
            rendered.title, rendered.summary, rendered.text or None, digest=rendered.digest
        )
    elif outcome.status == "rejected":
        conclusion = "failure"
        output = CheckRunOutput(f"Not graded: {outcome.message}", outcome.message)
    elif outcome.message.startswith("incomplete:"):  # some leaves: the judge was unavailable
        conclusion = "neutral"
        output = CheckRunOutput(
            outcome.message[0].upper() + outcome.message[1:],
            f"{outcome.message}\n\nThe judge endpoint was unavailable (retried with backoff): this grade "
            "is incomplete, not a low score, and not your submission's fault; "
            "an organizer can `/reprobot regrade` it.",
        )
    else:
        conclusion = "neutral"
        output = CheckRunOutput(
            "Could not grade (infrastructure problem)",
            f"{outcome.message}\n\nThis is not your submission's fault; "
            "an organizer can `/reprobot rerun` it.",
        )
    return conclusion, output


def complete_check(ctx: JobContext, job: Job, report_url: str | None, *, annotate: bool = True) -> None:
    """Complete the job's check run. ``annotate=False`` when it is completed again (an override
    rescored it): GitHub appends the annotations of every update, and they were sent the first time."""
    assert job.check_run_id is not None
    conclusion, output = conclusion_and_output(ctx, job, report_url)
    annotations = blacklist_annotations(Path(job.result_dir)) if job.result_dir and annotate else ()
    if annotate and job.result_dir and job.outcome is not None and job.outcome.graded:
        annotations += annotations_for(Path(job.result_dir))  # the evidence each verdict cites
    if annotations:
        output = CheckRunOutput(output.title, output.summary, output.text, annotations, output.digest)
    ctx.gh.update_check_run(
        job.repo,
        job.check_run_id,
        status="completed",
        conclusion=conclusion,
        output=output,
        details_url=report_url,
    )


def blacklist_annotations(result_dir: Path) -> tuple[Annotation, ...]:
    """Check-run annotations (file, line) for blacklist violations found in the submission."""
    record = ResultFolder(result_dir).read_blacklist()
    if record is None:
        return ()
    level: AnnotationLevel = "failure" if record.blocked else "warning"
    return tuple(
        Annotation(
            path=v.file,
            start_line=v.line or 1,
            end_line=v.line or 1,
            annotation_level=level,
            title="Blacklisted resource",
            message=f"{v.matched or v.url} is blacklisted for this paper ({v.url}).",
        )
        for v in record.violations
        if v.source in ("", "submission") and v.file
    )
