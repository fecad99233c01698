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
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from judge.accounting import Accounting, Estimate, estimate, token_usage_share
from judge.cache import LeafCache
from judge.calls import AuditLog, CallRunner, ItemResult, now
from judge.citations import LOG_FILE, SubmissionText, check_citations, citations_metadata
from judge.config import JudgeSettings
from judge.errors import JudgeError
from judge.evidence import ExecutedSubmission, load_executed
from judge.failures import FailureKind
from judge.graded import GradedNode, LeafGrade, dump_graded, grade_tree, summarize
from judge.llm import LLMBackend, Usage, scrubbed
from judge.outputs import GRADE, JUDGE_CALLS
from judge.papers import Paper, PaperMissing, paper_caveats
from judge.plan import Plan, WorkItem, build_plan, wave_order
from judge.protocols.common import NO_OUTPUTS_EXPLANATION
from judge.rubric import RubricNode, code_dev_rubric
from judge.secrets import Scrubber
from judge.summary import SUMMARY_FILE, CategoryFigures, GradeSummary, TokenFigures, failure_counts

__all__ = ["ExecutionInfraError", "JudgeOptions", "JudgeOutcome", "PaperMissing", "judge_executed"]

ProgressFn = Callable[[int, int, dict[str, Any]], None]


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


@dataclass(frozen=True)
class JudgeOutcome:
    graded: GradedNode
    summary: GradeSummary
    grade_path: Path
    summary_path: Path
    calls_path: Path


def plan_for(
    executed: Path, paper: Paper, options: JudgeOptions
) -> tuple[ExecutedSubmission, RubricNode, Plan]:
    sub = load_executed(executed)
    if sub.metadata.status == "infra_error":
        raise ExecutionInfraError(
            f"{executed}: the reproduction ended in an infrastructure error "
            f"({sub.metadata.error or 'no detail'}); nothing to judge"
        )
    rubric = options.rubric or paper.rubric
    rubric = code_dev_rubric(rubric) if options.code_dev else rubric
    return sub, rubric, build_plan(sub, paper, rubric, options.settings, code_only=options.code_dev)


def _open_cache(options: JudgeOptions) -> LeafCache:
    return LeafCache(options.cache_path or options.settings.cache_path)


def estimate_executed(executed: Path, paper: Paper, options: JudgeOptions) -> tuple[Estimate, int]:
    """Expected tokens and dollars for the calls a grade would send now (cached leaves excluded),
    and how many leaves the cache already answers. Sends nothing."""
    paper_caveats(paper, options.settings.allow_missing_paper)
    _, _, plan = plan_for(executed, paper, options)
    cache = _open_cache(options)
    try:
        todo: list[WorkItem] = []
        cached = 0
        for item in plan.items:
            missing = [r.leaf.id for r, k in zip(item.leaves, item.keys, strict=True) if cache.get(k) is None]
            cached += len(item.leaves) - len(missing)
            if missing:
                todo.append(item.only(missing))
    finally:
        cache.close()
    first, second, rest = wave_order(todo)
    return estimate([*first, *second, *rest], options.settings), cached


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
    options = JudgeOptions(settings, options.code_dev, options.cache_path, options.secrets, options.rubric)
    caveats = tuple(c for c in (backend.caveat,) if c) + paper_caveats(paper, settings.allow_missing_paper)
    scrubber = Scrubber.of([*backend.secrets, *options.secrets])
    backend = scrubbed(backend, options.secrets)
    started_at = now()
    sub, rubric, plan = plan_for(executed, paper, options)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    grades: dict[str, LeafGrade] = {}
    total = len(plan.leaves)
    base_meta = {
        "judge": "reprobot",
        "protocol": settings.protocol,
        "backend": backend.name,
        "model": backend.model,
        "prompt_version": settings.prompt_version,
    }
    lock = threading.Lock()

    def report(info: dict[str, Any]) -> None:
        if progress is not None:
            progress(len(grades), total, info)

    for ref in plan.no_call:
        grades[ref.leaf.id] = LeafGrade(
            0.0,
            True,
            NO_OUTPUTS_EXPLANATION,
            {
                **base_meta,
                "category": ref.leaf.task_category,
                "no_call": True,
                "cached": False,
                "tokens": Usage().to_dict(),
                "token_usage": {},
                "full_judge_response": None,
                "cost_usd": 0.0,
                "error": None,
            },
        )

    for ref, reason in plan.refused:  # their prompt cannot fit the context: refused before any call
        grades[ref.leaf.id] = LeafGrade.invalid(
            f"Could not grade: {reason}",
            {**base_meta, "category": ref.leaf.task_category, "cached": False, "no_call": True,
             "error": reason, "error_kind": FailureKind.REFUSED.value},
        )  # fmt: skip

    cache = _open_cache(options)
    accounting = Accounting(settings)
    calls_path = out_dir / JUDGE_CALLS
    cached_leaves = 0
    read = _reader(sub)

    def record(result: ItemResult) -> None:
        with lock:
            _record(result, settings, cache, grades, base_meta, read, scrubber)

    try:
        todo: list[WorkItem] = []
        for item in plan.items:
            missing = []
            for ref, key in zip(item.leaves, item.keys, strict=True):
                hit = cache.get(key)
                if hit is None:
                    missing.append(ref.leaf.id)
                    continue
                cached_leaves += 1
                grades[ref.leaf.id] = LeafGrade(
                    hit.score,
                    True,
                    hit.explanation,
                    {
                        **hit.metadata,
                        "cached": True,
                        "tokens": Usage().to_dict(),
                        "cost_usd": 0.0,
                        "cached_tokens_when_graded": hit.metadata.get("tokens"),
                    },
                )
            if missing:
                todo.append(item.only(missing))
        report({"stage": "cache", "cached": cached_leaves, "calls_planned": len(todo)})

        with calls_path.open("a", encoding="utf-8") as fh:
            runner = CallRunner(backend, settings, AuditLog(fh, scrubber), accounting)
            _run_items(todo, runner, settings, grades, base_meta, record, report)
    finally:
        cache.close()

    graded = grade_tree(rubric, lambda leaf: grades[leaf.id])
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
        models=settings.models(),
        caveats=caveats + plan.notes,
        by_category={
            k: CategoryFigures(v.score, v.coverage, v.leaves, v.passed, v.invalid)
            for k, v in s.by_category.items()
        },
        tokens=TokenFigures(**accounting.usage.to_dict()),
        cost_usd=accounting.cost,
        calls=accounting.calls,
        cached_leaves=cached_leaves,
        leaves_per_call=settings.group_size,
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


def _record(
    result: ItemResult,
    settings: JudgeSettings,
    cache: LeafCache,
    grades: dict[str, LeafGrade],
    base_meta: Mapping[str, Any],
    read: SubmissionText,
    scrubber: Scrubber,
) -> None:
    item = result.item
    n = len(item.leaves)
    shares = result.usage.split(n)
    rows = []
    for i, (ref, key, share) in enumerate(zip(item.leaves, item.keys, shares, strict=True)):
        leaf_id = ref.leaf.id
        details = result.details.get(leaf_id, {})
        meta: dict[str, Any] = {
            **base_meta,
            "category": ref.leaf.task_category,
            "evidence_files": list(details.get("ranked_files", item.evidence_files)),
            "evidence_sha256": item.evidence_sha256,
            "leaves_in_call": n,
            "call_ids": result.call_ids,
            "attempts": result.attempts,
            "structured_output": result.structured,
            "full_judge_response": scrubber.text(str(details.get("full_judge_response") or "")) or None,
            "token_usage": token_usage_share(result.usage_by_model, n, i),
            "tokens": share.to_dict(),
            "cost_usd": None if result.cost_usd is None else result.cost_usd / n,
            "cached": False,
            "no_call": False,
            "error": None,
            "citations": [],
        }
        verdict = result.verdicts.get(leaf_id)
        if verdict is not None:
            meta["citations"] = citations_metadata(check_citations(verdict.citations, read))
            explanation = scrubber.text(verdict.explanation)
            grades[leaf_id] = LeafGrade(float(verdict.score), True, explanation, meta)
            rows.append(
                (
                    key,
                    settings.model,
                    settings.prompt_version,
                    leaf_id,
                    float(verdict.score),
                    explanation,
                    meta,
                )
            )
        else:
            reason = scrubber.text(result.problems.get(leaf_id, "no verdict"))
            kind = result.kinds.get(leaf_id, FailureKind.PARSE).value
            grades[leaf_id] = LeafGrade.invalid(
                f"Could not grade: {reason}", {**meta, "error": reason, "error_kind": kind}
            )
    if rows:
        cache.put_many(rows)


def _run_items(
    todo: Sequence[WorkItem],
    runner: CallRunner,
    settings: JudgeSettings,
    grades: dict[str, LeafGrade],
    base_meta: Mapping[str, Any],
    record: Callable[[ItemResult], None],
    report: Callable[[dict[str, Any]], None],
) -> None:
    from judge.protocols.paperbench import run_paperbench_item

    def run(item: WorkItem) -> ItemResult:
        if item.task is not None:
            return run_paperbench_item(runner, item)
        return runner.run_grades(item)

    first, second, rest = wave_order(todo)
    queue = [*second, *rest]
    barrier = len(second)  # the second wave is sent together, after the first call returns
    pool = ThreadPoolExecutor(max_workers=settings.concurrency, thread_name_prefix="judge")
    inflight: dict[Future[ItemResult], WorkItem] = {}

    def fail_budget(items: Sequence[WorkItem], reason: str) -> None:
        for item in items:
            for ref in item.leaves:
                grades[ref.leaf.id] = LeafGrade.invalid(
                    f"Could not grade: {reason}",
                    {**base_meta, "category": ref.leaf.task_category, "error": reason, "cached": False,
                     "error_kind": FailureKind.REFUSED.value},  # the organizer's budget
                )  # fmt: skip

    def finish(fut: Future[ItemResult]) -> None:
        item = inflight.pop(fut)
        # Cache in the worker's order of completion: a kill keeps what was paid for.
        record(fut.result())
        report({"stage": "graded", "item": item.index, "leaf_ids": list(item.leaf_ids)})

    try:
        for wave in (first, queue[:barrier]):
            futures = []
            for item in wave:
                reason = runner.accounting.exhausted()
                if reason:
                    fail_budget([item], reason)
                    continue
                fut = pool.submit(run, item)
                inflight[fut] = item
                futures.append(fut)
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    finish(fut)
        rest_queue = list(queue[barrier:])
        rest_queue.reverse()
        active: set[Future[ItemResult]] = set()
        while rest_queue or active:
            while rest_queue and len(active) < settings.concurrency:
                reason = runner.accounting.exhausted()
                if reason:
                    fail_budget(rest_queue, reason)
                    rest_queue.clear()
                    break
                item = rest_queue.pop()
                fut = pool.submit(run, item)
                inflight[fut] = item
                active.add(fut)
            if not active:
                break
            done, _ = wait(active, return_when=FIRST_COMPLETED)
            for fut in done:
                active.discard(fut)
                finish(fut)
    except BaseException:
        # Interrupted (Ctrl-C, a failing progress hook, a fatal backend error): send nothing new,
        # let the calls in flight finish and keep their verdicts in the cache, then re-raise.
        pool.shutdown(wait=True, cancel_futures=True)
        for fut in list(inflight):
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                record(fut.result())
        raise
    pool.shutdown(wait=True)
