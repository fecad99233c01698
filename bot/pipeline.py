"""The real Grader: the pipeline on this machine, as named steps.

``fetch`` the exact commit, ``scan`` it against the paper's blacklist, ``run`` reproduce.sh in the
sandbox, ``collect`` (the runner writes the executed submission; the log is scanned too), ``judge``
every rubric leaf, ``report`` (HTML). Each step's failure becomes an outcome, never an exception:
the submitter's fault is ``rejected`` with a clear message; the environment's fault is
``infra_error`` (retried by the worker, shown neutral, never a low score).
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from bot.backoff import backoff_delay
from bot.grading import GradeOutcome, GradeRequest, ProgressFn
from bot.results import EXECUTED_FILES, REPRODUCE_LOG, BlacklistRecord, ResultFolder
from bot.settings import Settings, results_dir
from judge.errors import JudgeError, PaperNotFound, RubricError
from judge.failures import FailureKind
from judge.papers import Paper, PaperRegistry, paper_caveats
from judge.progress import JudgeProgress
from judge.summary import GradeSummary
from runner.blacklist import AGENT_LOG, BlacklistReport, scan_submission
from runner.engine import ContainerEngine
from runner.errors import InfraError, RunnerError, SubmissionError
from runner.fetch import fetch_submission
from runner.janitor import temp_dir
from runner.metadata import RunMetadata
from runner.options import paper_overrides
from runner.reproduce import ReproduceOptions, record_without_run, reproduce


def _noop(stage: str, detail: str) -> None:
    return None


def log_tail(path: Path, lines: int = 3, max_bytes: int = 4096) -> str:
    """The last few lines of a growing log, for the live view."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - max_bytes))
            text = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return " | ".join(line.strip()[:120] for line in text.splitlines()[-lines:] if line.strip())


class _Heartbeat(threading.Thread):
    """Reports elapsed time and the log's tail every few seconds while reproduce.sh runs."""

    def __init__(self, log: Path, progress: ProgressFn, every_s: float = 5.0) -> None:
        super().__init__(daemon=True)
        self.log, self.progress, self.every_s = log, progress, every_s
        self.stop = threading.Event()
        self.started = time.monotonic()

    def run(self) -> None:
        while not self.stop.wait(self.every_s):
            elapsed = time.monotonic() - self.started
            self.progress("reproducing", f"{elapsed:.0f} s; log: {log_tail(self.log) or '(no output yet)'}")


class LocalGrader:
    def __init__(
        self,
        settings: Settings,
        *,
        agent_resources: Mapping[str, str] | None = None,
        engine: ContainerEngine | None = None,
    ) -> None:
        self.settings = settings
        self.registry = PaperRegistry(settings.papers.rubrics_dir, settings.papers.blacklists_dir)
        self.agent_resources = dict(agent_resources or {})
        self.engine = engine

    def check_judge(self) -> str | None:
        """Build the judge backend now (no call): a missing key fails before any reproduction.
        Returns the backend's declared caveat."""
        from bot.judge_setup import judge_backend_for, judge_settings_for

        backend = judge_backend_for(self.settings, judge_settings_for(self.settings))
        return backend.caveat

    # ------------------------------------------------------------------------------------ steps

    def fetch(self, request: GradeRequest, into: Path) -> Path:
        fetched = fetch_submission(
            request.submission,
            into,
            max_bytes=self.settings.runner.max_repo_bytes,
            http_auth=request.fetch_auth,
        )
        return fetched.root

    def scan(self, paper: Paper, root: Path, logs: Mapping[str, Path] | None = None) -> BlacklistReport:
        return scan_submission(root, paper.blacklist, logs=dict(logs or {}))

    def run(
        self, paper: Paper, root: Path, out_dir: Path, ref: str, code_dev: bool, progress: ProgressFn
    ) -> RunMetadata:
        try:  # a paper's own limits (timeout, disk, egress hosts...), if it sets any
            overrides = paper_overrides(self.settings.runner, paper.config)
        except ValueError as exc:
            raise InfraError(f"paper {paper.id}: {exc}") from None  # the organizer's to fix
        options = ReproduceOptions.from_settings(self.settings.runner, **overrides)
        if code_dev:  # PaperBench's Code-Dev variant runs nothing (and saves the GPU)
            return record_without_run(root, out_dir, options, reason="code-dev", submission_ref=ref)
        beat = _Heartbeat(out_dir / REPRODUCE_LOG, progress)
        beat.start()
        try:
            return reproduce(
                root, out_dir, options, engine=self.engine,
                env=self.agent_resources, submission_ref=ref,
            )  # fmt: skip
        finally:
            beat.stop.set()

    def collect(self, paper: Paper, out_dir: Path, agent_log: Path | None = None) -> BlacklistReport:
        """Scan the executed submission, its log and the agent's (both rules) and record it."""
        log = ResultFolder(out_dir).reproduce_log
        logs = {REPRODUCE_LOG: log} if log.is_file() else {}
        if agent_log is not None:
            logs[AGENT_LOG] = agent_log
        report = self.scan(paper, ResultFolder(out_dir).executed, logs)
        self._write_blacklist(out_dir, report)
        return report

    def judge(
        self, paper: Paper, executed: Path, out_dir: Path, code_dev: bool, progress: ProgressFn
    ) -> GradeSummary:
        from bot.judge_setup import judge_backend_for, judge_secrets, judge_settings_for
        from judge.grader import JudgeOptions, judge_executed

        js = judge_settings_for(self.settings)
        if js.cache_path is not None:
            js.cache_path.parent.mkdir(parents=True, exist_ok=True)
        backend = judge_backend_for(self.settings, js)
        started = time.monotonic()

        def judged(event: JudgeProgress) -> None:
            progress("judging", f"{event.describe()} ({time.monotonic() - started:.0f} s)")

        options = JudgeOptions(js, code_dev=code_dev, secrets=judge_secrets(self.settings))
        outcome = judge_executed(executed, paper, out_dir, options, backend, judged)
        return outcome.summary

    def judge_through_outages(
        self, paper: Paper, executed: Path, out_dir: Path, code_dev: bool, progress: ProgressFn
    ) -> tuple[GradeSummary, int]:
        """Judge; leaves that failed for infrastructure reasons are judged again with backoff for
        ``bot.judge_retry_s`` (the leaf cache answers the good ones). Returns the summary and how
        many leaves are still ungraded for infrastructure reasons."""
        from judge.graded import load_graded
        from judge.infra import infra_failed_leaves

        bot = self.settings.bot
        deadline: float | None = None  # the retry window opens at the first outage
        retry = 0
        while True:
            summary = self.judge(paper, executed, out_dir, code_dev, progress)
            grade = ResultFolder(out_dir).grade
            failed = infra_failed_leaves(load_graded(grade)) if grade.is_file() else []
            if not failed:
                return summary, 0
            deadline = deadline if deadline is not None else time.monotonic() + bot.judge_retry_s
            retry += 1
            delay = backoff_delay(bot.judge_retry_backoff_s, retry, cap_s=120.0)
            if time.monotonic() + delay > deadline:
                return summary, len(failed)
            progress(
                "judging",
                f"judge unavailable for {len(failed)} leaves (not your submission's fault); "
                f"retry {retry} in {delay:.0f} s",
            )
            time.sleep(delay)

    def report(self, out_dir: Path) -> Path:
        """The HTML report; it links the previous run of the same submitter and paper when the
        folder sits in the results folder."""
        from bot.report import write_html_report

        root = results_dir(self.settings)
        inside = Path(out_dir).resolve().is_relative_to(root.resolve())
        return write_html_report(out_dir, results_root=root if inside else None)

    # ------------------------------------------------------------------------------- pipeline

    def _paperbench_consequence(self, out_dir: Path, summary: GradeSummary) -> tuple[GradeSummary, str]:
        """PaperBench's monitor hit the agent's log under policy fail: the paper's score is 0."""
        record = ResultFolder(out_dir).read_blacklist()
        if record is None or not record.score_zero:
            return summary, ""
        note = (
            "blacklisted resource in the agent's log (PaperBench's monitor): "
            f"score 0 (judged {summary.score:.3f})"
        )
        zeroed = replace(summary, score=0.0, caveats=(*summary.caveats, note))
        zeroed.write(ResultFolder(out_dir).judge_summary)
        return zeroed, f"; {note}"

    def _write_blacklist(self, out_dir: Path, report: BlacklistReport) -> None:
        BlacklistRecord.write(out_dir, report, self.settings.runner.blacklist_policy)

    def grade(self, request: GradeRequest, out_dir: Path, progress: ProgressFn | None = None) -> GradeOutcome:
        progress = progress or _noop
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)

        def outcome(status: str, message: str, **kw: object) -> GradeOutcome:
            progress(status, message)
            return GradeOutcome(status, message, out_dir, **kw)  # type: ignore[arg-type]

        try:
            paper = self.registry.resolve(request.paper)
            paper.rubric  # noqa: B018 - validate before spending anything
        except (PaperNotFound, RubricError) as exc:
            return outcome("rejected", str(exc))
        # No paper.md (and grading without it not allowed): refused before any work. PaperMissing is
        # the organizer's to fix: the CLI says so in one line (exit 1); the bot's routing refuses first.
        paper_caveats(paper, self.settings.judge.allow_missing_paper)
        try:
            self.check_judge()  # before the GPU run, not after it
        except JudgeError as exc:
            return outcome("infra_error", f"the judge could not run: {exc}")

        if request.reuse_reproduction is not None:
            executed = Path(request.reuse_reproduction)
            if executed.resolve() != out_dir.resolve():
                for name in EXECUTED_FILES:
                    if (executed / name).is_file():
                        shutil.copy2(executed / name, out_dir / name)
            elif not ResultFolder(out_dir).blacklist.is_file():  # resumed before the run was scanned
                post = self.collect(paper, out_dir)
                if post.blocked(self.settings.runner.blacklist_policy):
                    return outcome(
                        "rejected", f"blacklisted resource used during the run: {post.violations[0].url}"
                    )
        else:
            with temp_dir("fetch") as tmp:
                try:
                    progress("fetching", request.submission)
                    root = self.fetch(request, Path(tmp) / "src")
                    progress("scanning", f"blacklist of {paper.id}: {len(paper.blacklist)} entries")
                    agent = {AGENT_LOG: request.agent_log} if request.agent_log is not None else None
                    pre = self.scan(paper, root, agent)
                    if pre.blocked(self.settings.runner.blacklist_policy):
                        self._write_blacklist(out_dir, pre)
                        first = pre.violations[0]
                        return outcome(
                            "rejected",
                            f"blacklisted resource {first.url} used in {first.file}:{first.line} "
                            f"({len(pre.violations)} violation(s)); the policy of this deployment is to fail",
                        )
                    progress("reproducing", "starting the container")
                    metadata = self.run(root=root, paper=paper, out_dir=out_dir, ref=request.submission,
                                        code_dev=request.code_dev, progress=progress)  # fmt: skip
                except SubmissionError as exc:
                    return outcome("rejected", str(exc))
                except RunnerError as exc:  # InfraError and anything else not the submitter's fault
                    return outcome("infra_error", str(exc))
            if metadata.status == "infra_error":
                return outcome(
                    "infra_error", metadata.error or "the reproduction failed for infrastructure reasons"
                )
            try:
                post = self.collect(paper, out_dir, request.agent_log)
            except (OSError, ValueError, RecursionError) as exc:
                # What the run left caused it (names, sizes, depth): the submission's, graded with what
                # exists; never an infrastructure error that would run the reproduction again.
                progress("judging", f"the scan of the executed submission stopped: {exc}")
                post = None
            if post is not None and post.blocked(self.settings.runner.blacklist_policy):
                return outcome(
                    "rejected", f"blacklisted resource used during the run: {post.violations[0].url}"
                )
            executed = out_dir

        progress("judging", f"{sum(1 for _ in paper.rubric.leaves())} leaves")
        try:
            summary, unavailable = self.judge_through_outages(
                paper, executed, out_dir, request.code_dev, progress
            )
        except JudgeError as exc:
            return outcome("infra_error", f"the judge could not run: {exc}")
        summary, zeroed = self._paperbench_consequence(out_dir, summary)
        self.report(out_dir)
        score, coverage = summary.score, summary.coverage
        if unavailable:
            return outcome(
                "infra_error",
                f"incomplete: judge unavailable ({unavailable} leaves not graded; "
                f"coverage {100 * coverage:.0f}%, partial score {score:.3f})",
                score=score,
                coverage=coverage,
            )
        refused = summary.failed_leaves.get(FailureKind.REFUSED.value, 0)
        if refused:  # the judge's configuration, not the submission's: neutral, and no use waiting
            return outcome(
                "infra_error",
                f"incomplete: the judge's configuration stopped {refused} leaves (an endpoint refusal or "
                f"the judge budget; coverage {100 * coverage:.0f}%, partial score {score:.3f}); "
                "see judge_summary.json",
                score=score,
                coverage=coverage,
            )
        caveats = "".join(f" (CAVEAT: {c})" for c in summary.caveats)
        return outcome(
            "graded",
            f"score {score:.3f}, coverage {100 * coverage:.0f}%{caveats}{zeroed}",
            score=score,
            coverage=coverage,
        )
