"""Grade an executed submission: every rubric leaf gets a verdict or a reason it has none.

``judge_executed`` reads a ``reprobot reproduce --out`` folder, plans the calls (judge.plan),
answers what it can from the leaf cache, sends the rest with a bounded number in flight (the first
call alone, so the provider caches the shared prefix), retries transient failures with jittered
backoff that honours Retry-After, asks once more when a verdict is unusable, and writes
DIR/grade.json, DIR/judge_summary.json and DIR/judge_calls.jsonl (docs/FORMATS.md).
A leaf that cannot be graded is ``valid_score: false`` with the reason, never a silent 0.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from judge.accounting import Accounting, Estimate, estimate
from judge.cache import LeafCache
from judge.calls import AuditLog, CallRunner, ItemResult, Problem, now
from judge.citations import LOG_FILE, SubmissionText, check_citations
from judge.config import JudgeSettings
from judge.context import screen
from judge.errors import JudgeError
from judge.evidence import ExecutedSubmission, load_executed
from judge.failures import FailureKind
from judge.graded import GradedNode, LeafGrade, dump_graded, grade_tree, summarize
from judge.leaf_metadata import LeafMetadata, ModelTokens
from judge.llm import LLMBackend, Usage, scrubbed
from judge.outputs import GRADE, JUDGE_CALLS
from judge.papers import Paper, PaperMissing, paper_caveats
from judge.plan import Plan, WorkItem, wave_order
from judge.progress import JudgeProgress, JudgeStage, ProgressFn
from judge.protocols.base import JudgeProtocol
from judge.protocols.common import NO_OUTPUTS_EXPLANATION
from judge.protocols.registry import protocol_named
from judge.rubric import RubricNode, code_dev_rubric
from judge.schedule import send_items
from judge.secrets import Scrubber
from judge.summary import SUMMARY_FILE, CategoryFigures, GradeSummary, TokenFigures, failure_counts

__all__ = ["ExecutionInfraError", "JudgeOptions", "JudgeOutcome", "PaperMissing", "judge_executed"]


class ExecutionInfraError(JudgeError):
    """The reproduction itself failed for infrastructure reasons: nothing to judge (infra_error)."""

    exit_code = 3


@dataclass(frozen=True)
class JudgeOptions:
    settings: JudgeSettings = field(default_factory=JudgeSettings)
    code_dev: bool = False
    cache_path: Path | None = None  # None: settings.cache_path, and if that is None too, in memory
    secrets: tuple[str, ...] = ()  # scrubbed from every output, besides the backend's own key
    rubric: RubricNode | None = None  # None: the paper's rubric (judge-eval-run: the gold tree)
    submission_dir: Path | None = None  # None: EXECUTED/submission; else a bare PaperBench folder


@dataclass(frozen=True)
class JudgeOutcome:
    graded: GradedNode
    summary: GradeSummary
    grade_path: Path
    summary_path: Path
    calls_path: Path


def plan_for(
    executed: Path, paper: Paper, options: JudgeOptions, protocol: JudgeProtocol[Any]
) -> tuple[ExecutedSubmission, RubricNode, Plan[Any]]:
    sub = load_executed(executed, options.submission_dir)
    if sub.metadata.status == "infra_error":
        raise ExecutionInfraError(
            f"{executed}: the reproduction ended in an infrastructure error "
            f"({sub.metadata.error or 'no detail'}); nothing to judge"
        )
    rubric = options.rubric or paper.rubric
    rubric = code_dev_rubric(rubric) if options.code_dev else rubric
    settings = options.settings
    plan = protocol.plan(sub, paper, rubric, settings, options.code_dev)
    # leaves whose smallest prompt cannot fit the model's context are refused here, said once
    fit = screen(plan.items, settings, lambda item: protocol.planned_calls(item, settings))
    notes = (*plan.notes, fit.line) if fit.line else plan.notes
    return sub, rubric, replace(plan, items=fit.kept, refused=fit.refused, notes=notes)


def _open_cache(options: JudgeOptions) -> LeafCache:
    return LeafCache(options.cache_path or options.settings.cache_path)


def estimate_executed(executed: Path, paper: Paper, options: JudgeOptions) -> tuple[Estimate, int]:
    """Expected tokens and dollars for the calls a grade would send now (cached leaves excluded),
    and how many leaves the cache already answers. Sends nothing."""
    paper_caveats(paper, options.settings.allow_missing_paper)
    protocol = protocol_named(options.settings.protocol)
    _, _, plan = plan_for(executed, paper, options, protocol)
    cache = _open_cache(options)
    try:
        todo: list[WorkItem[Any]] = []
        cached = 0
        for item in plan.items:
            missing = [r.leaf.id for r, k in zip(item.leaves, item.keys, strict=True) if cache.get(k) is None]
            cached += len(item.leaves) - len(missing)
            if missing:
                todo.append(item.only(missing))
    finally:
        cache.close()
    first, second, rest = wave_order(todo)
    calls = [
        (len(item.leaves), protocol.planned_calls(item, options.settings))
        for item in (*first, *second, *rest)
    ]
    return estimate(calls, options.settings, protocol.models(options.settings)), cached


def _reader(sub: ExecutedSubmission) -> SubmissionText:
    texts = {f.path: f.text for f in sub.files}

    def read(path: str) -> str | None:
        return sub.log if path == LOG_FILE else texts.get(path)

    return SubmissionText(read)


def judge_executed(
    executed: Path,
    paper: Paper,
    out_dir: Path,
    options: JudgeOptions,
    backend: LLMBackend,
    progress: ProgressFn | None = None,
) -> JudgeOutcome:
    """Grade EXECUTED against PAPER's rubric (or options.rubric); write grade.json,
    judge_summary.json and judge_calls.jsonl. Refuses a paper without paper.md before any call."""
    settings = options.settings
    if backend.model != settings.model:  # prices and cache keys follow the model actually asked
        settings = settings.model_copy(update={"model": backend.model})
    options = replace(options, settings=settings)
    caveats = tuple(c for c in (backend.caveat,) if c) + paper_caveats(paper, settings.allow_missing_paper)
    scrubber = Scrubber.of([*backend.secrets, *options.secrets])
    backend = scrubbed(backend, options.secrets)
    started_at = now()
    protocol = protocol_named(settings.protocol)
    sub, rubric, plan = plan_for(executed, paper, options, protocol)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    base = LeafMetadata(settings.protocol, backend.name, backend.model, settings.prompt_version)
    book = _Book(len(plan.leaves), base, settings, scrubber, _reader(sub), progress)
    for ref in plan.no_call:
        meta = replace(base, category=ref.leaf.task_category, no_call=True)
        book.grades[ref.leaf.id] = LeafGrade(0.0, True, NO_OUTPUTS_EXPLANATION, meta.to_dict())

    for ref, reason in plan.refused:  # their prompt cannot fit the context: refused before any call
        meta = replace(base, category=ref.leaf.task_category, no_call=True)
        meta = meta.failed(reason, FailureKind.REFUSED)
        book.grades[ref.leaf.id] = LeafGrade.invalid(f"Could not grade: {reason}", meta.to_dict())

    cache = _open_cache(options)
    accounting = Accounting(settings)
    calls_path = out_dir / JUDGE_CALLS
    try:
        todo: list[WorkItem[Any]] = []
        for item in plan.items:
            missing = []
            for ref, key in zip(item.leaves, item.keys, strict=True):
                hit = cache.get(key)
                if hit is None:
                    missing.append(ref.leaf.id)
                    continue
                book.cached += 1
                meta = LeafMetadata.from_dict(hit.metadata).from_cache()
                book.grades[ref.leaf.id] = LeafGrade(hit.score, True, hit.explanation, meta.to_dict())
            if missing:
                todo.append(item.only(missing))
        book.report(JudgeStage.PLANNED, accounting, items_to_send=len(todo))

        with calls_path.open("a", encoding="utf-8") as fh:
            runner = CallRunner(backend, settings, AuditLog(fh, scrubber), accounting)

            def record(result: ItemResult) -> None:
                book.record(result, cache)
                book.report(JudgeStage.GRADED, accounting, leaf_ids=result.item.leaf_ids)

            send_items(
                todo,
                lambda item: protocol.run(item, runner),
                settings.concurrency,
                accounting.exhausted,
                record,
                book.not_sent,
            )
    finally:
        cache.close()

    graded = grade_tree(rubric, lambda leaf: book.grades[leaf.id])
    grade_path = out_dir / GRADE
    dump_graded(graded, grade_path)
    s = summarize(graded)
    endpoint = backend.endpoint()
    summary = GradeSummary(
        paper_id=paper.id,
        score=s.score,
        coverage=s.coverage,
        leaves=s.leaves,
        passed=s.passed,
        invalid=s.invalid,
        mode="code-dev" if options.code_dev else "full",
        protocol=settings.protocol,
        models=protocol.models(settings),
        caveats=caveats + plan.notes,
        by_category={
            k: CategoryFigures(v.score, v.coverage, v.leaves, v.passed, v.invalid)
            for k, v in s.by_category.items()
        },
        tokens=TokenFigures(**accounting.usage.to_dict()),
        cost_usd=accounting.cost,
        calls=accounting.calls,
        cached_leaves=book.cached,
        leaves_per_call=protocol.leaves_per_call(settings),
        started_at=started_at,
        finished_at=now(),
        prompt_version=settings.prompt_version,
        run_status=sub.metadata.status,
        endpoint=endpoint,
        attempts=endpoint.requests,
        failed_leaves=failure_counts(graded),
    )
    summary_path = out_dir / SUMMARY_FILE
    summary.write(summary_path)
    return JudgeOutcome(graded, summary, grade_path, summary_path, calls_path)


def _token_usage(by_model: Mapping[str, Usage], n: int, i: int) -> dict[str, ModelTokens]:
    """PaperBench's ``token_usage``: per model, this leaf's share of the item's tokens."""
    out = {}
    for model, usage in by_model.items():
        share = usage.split(n)[i]
        out[model] = ModelTokens(share.input, share.cached_input, share.output, share.reasoning)
    return out


class _Book:
    """The leaves' grades as items come back (worker threads record under one lock)."""

    def __init__(
        self,
        total: int,
        base: LeafMetadata,
        settings: JudgeSettings,
        scrubber: Scrubber,
        read: SubmissionText,
        progress: ProgressFn | None,
    ) -> None:
        self.grades: dict[str, LeafGrade] = {}
        self.total = total
        self.cached = 0
        self.base = base
        self.settings = settings
        self.scrub = scrubber
        self.read = read
        self.progress = progress
        self.lock = threading.Lock()

    def report(self, stage: JudgeStage, accounting: Accounting, **kw: Any) -> None:
        if self.progress is None:
            return
        tokens = TokenFigures(**accounting.usage.to_dict())
        event = JudgeProgress(
            stage, len(self.grades), self.total, self.cached, calls=accounting.calls, tokens=tokens,
            cost_usd=accounting.cost, **kw,
        )  # fmt: skip
        self.progress(event)

    def not_sent(self, items: Sequence[WorkItem[Any]], reason: str) -> None:
        """Items past the budget: their leaves are invalid, never a silent 0 (the organizer's limit)."""
        with self.lock:
            for item in items:
                for ref in item.leaves:
                    meta = replace(self.base, category=ref.leaf.task_category).failed(
                        reason, FailureKind.REFUSED
                    )
                    self.grades[ref.leaf.id] = LeafGrade.invalid(f"Could not grade: {reason}", meta.to_dict())

    def record(self, result: ItemResult, cache: LeafCache) -> None:
        with self.lock:
            self._record(result, cache)

    def _record(self, result: ItemResult, cache: LeafCache) -> None:
        item = result.item
        n = len(item.leaves)
        shares = result.usage.split(n)
        rows = []
        for i, (ref, key, share) in enumerate(zip(item.leaves, item.keys, shares, strict=True)):
            leaf_id = ref.leaf.id
            answer = result.details.get(leaf_id)
            full = answer.full_judge_response if answer is not None else None
            shown = answer.shown_files if answer is not None else None
            meta = replace(
                self.base,
                category=ref.leaf.task_category,
                evidence_files=item.evidence_files if shown is None else shown,
                evidence_sha256=item.evidence_sha256,
                leaves_in_call=n,
                call_ids=tuple(result.call_ids),
                attempts=result.attempts,
                structured_output=result.structured,
                full_judge_response=self.scrub.text(full) if full else None,
                token_usage=_token_usage(result.usage_by_model, n, i),
                tokens=TokenFigures(**share.to_dict()),
                cost_usd=None if result.cost_usd is None else result.cost_usd / n,
            )
            verdict = result.verdicts.get(leaf_id)
            if verdict is None:
                problem = result.problems.get(leaf_id) or Problem(FailureKind.PARSE, "no verdict")
                reason = self.scrub.text(problem.reason)
                meta = meta.failed(reason, problem.kind)
                self.grades[leaf_id] = LeafGrade.invalid(f"Could not grade: {reason}", meta.to_dict())
                continue
            meta = replace(meta, citations=check_citations(verdict.citations, self.read))
            explanation = self.scrub.text(verdict.explanation)
            if not verdict.valid:  # the answer says it holds no valid score: kept as PaperBench keeps it
                meta = meta.failed("the grading answer gives no valid score", FailureKind.PARSE)
                self.grades[leaf_id] = LeafGrade(float(verdict.score), False, explanation, meta.to_dict())
                continue
            self.grades[leaf_id] = LeafGrade(float(verdict.score), True, explanation, meta.to_dict())
            version = self.settings.prompt_version
            rows.append(
                (
                    key,
                    self.settings.model,
                    version,
                    leaf_id,
                    float(verdict.score),
                    explanation,
                    meta.to_dict(),
                )
            )
        if rows:
            cache.put_many(rows)
