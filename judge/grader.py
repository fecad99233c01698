"""Grade an executed submission: every rubric leaf gets a verdict or a reason it has none.

``judge_executed`` reads a ``reprobot reproduce --out`` folder, plans the calls (judge.plan),
answers what it can from the leaf cache, sends the rest with a bounded number in flight (the first
call alone, so the provider caches the shared prefix), retries transient failures with jittered
backoff that honours Retry-After, asks once more when a verdict is unusable, and writes
DIR/grade.json, DIR/judge_summary.json and DIR/judge_calls.jsonl (docs/FORMATS.md).
A leaf that cannot be graded is ``valid_score: false`` with the reason, never a silent 0.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from judge.accounting import Accounting, Estimate, cost_usd, estimate
from judge.cache import LeafCache
from judge.config import JudgeSettings
from judge.errors import JudgeError
from judge.evidence import ExecutedSubmission, load_executed
from judge.graded import GradedNode, LeafGrade, dump_graded, grade_tree, summarize
from judge.infra import error_kind
from judge.llm import (
    DUMMY_PREFIX,
    LLMBackend,
    LLMRequest,
    LLMResponse,
    PermanentLLMError,
    StructuredOutputUnsupported,
    TransientLLMError,
    Usage,
)
from judge.papers import Paper
from judge.plan import NO_OUTPUTS_EXPLANATION, Plan, WorkItem, build_plan, wave_order
from judge.prompts import RESPONSE_SCHEMA, RESPONSE_SCHEMA_NAME, RETRY_MESSAGE, Verdict, parse_verdicts
from judge.rubric import RubricNode, code_dev_rubric

ProgressFn = Callable[[int, int, dict[str, Any]], None]


class ExecutionInfraError(JudgeError):
    """The reproduction itself failed for infrastructure reasons: nothing to judge (infra_error)."""

    exit_code = 3


@dataclass(frozen=True)
class JudgeOptions:
    settings: JudgeSettings = field(default_factory=JudgeSettings)
    code_dev: bool = False
    cache_path: Path | None = None  # None: settings.cache_path, and if that is None too, in memory


@dataclass(frozen=True)
class JudgeOutcome:
    graded: GradedNode
    summary: dict[str, Any]
    grade_path: Path
    summary_path: Path
    calls_path: Path


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class AuditLog:
    """judge_calls.jsonl: one line per request attempt. A message body is written in full the first
    time it appears in the file; later lines name it by sha256 (the 150 KB paper is stored once)."""

    def __init__(self, fh: IO[str]) -> None:
        self._fh = fh
        self._lock = threading.Lock()
        self._seen: set[str] = set()
        self._n = 0

    def write(self, record: dict[str, Any], messages: Sequence[tuple[str, str]]) -> int:
        with self._lock:
            self._n += 1
            shown = []
            for role, content in messages:
                digest = hashlib.sha256(content.encode("utf-8", "surrogatepass")).hexdigest()
                entry: dict[str, Any] = {"role": role, "sha256": digest, "chars": len(content)}
                if digest not in self._seen:
                    self._seen.add(digest)
                    entry["content"] = content
                shown.append(entry)
            line = {"call_id": self._n, **record}
            line["request"] = {**line.get("request", {}), "messages": shown}
            self._fh.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")
            self._fh.flush()
            return self._n


class _LeafFailure(Exception):
    pass


@dataclass
class ItemResult:
    item: WorkItem
    verdicts: dict[str, Verdict]
    problems: dict[str, str]
    usage: Usage
    call_ids: list[int]
    attempts: int
    structured: bool


class CallRunner:
    """Sends one work item, with retries, fallback and the one extra ask; runs in worker threads."""

    def __init__(
        self, backend: LLMBackend, settings: JudgeSettings, audit: AuditLog, accounting: Accounting
    ) -> None:
        self.backend = backend
        self.settings = settings
        self.audit = audit
        self.accounting = accounting
        self.structured = settings.structured_output
        self._rng = random.Random()

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        cap = min(self.settings.backoff_max_s, self.settings.backoff_base_s * (2**attempt))
        jittered = self._rng.uniform(cap / 2, cap) if cap > 0 else 0.0
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.settings.backoff_max_s) + self._rng.uniform(0, 0.05)
        return jittered

    def _send(
        self, item: WorkItem, messages: Sequence[tuple[str, str]], leaf_ids: Sequence[str]
    ) -> tuple[LLMResponse, int, list[int]]:
        attempts = 0
        call_ids: list[int] = []
        fallback_done = False
        while True:
            attempts += 1
            request = LLMRequest(
                tuple(messages),
                tuple(leaf_ids),
                RESPONSE_SCHEMA if self.structured else None,
                RESPONSE_SCHEMA_NAME,
                self.settings.timeout_s,
            )
            started, t0 = _now(), time.monotonic()
            base = {
                "item": item.index,
                "leaf_ids": list(leaf_ids),
                "attempt": attempts,
                "started_at": started,
            }
            req_meta = {"model": self.backend.model, "structured_output": self.structured}

            def failed(error: str, **extra: Any) -> None:  # a failed call goes on the audit record too
                record = {**base, "duration_s": round(time.monotonic() - t0, 3), "request": req_meta}  # noqa: B023
                entry = {**record, "response": None, "error": error, **extra}  # noqa: B023
                call_ids.append(self.audit.write(entry, messages))

            try:
                response = self.backend.complete(request)
            except StructuredOutputUnsupported as exc:
                failed(f"structured output refused, resending as plain text: {str(exc)[:300]}")
                self.structured = False
                if fallback_done:
                    raise _LeafFailure("the endpoint refused the request format") from None
                fallback_done = True
                attempts -= 1
                continue
            except TransientLLMError as exc:
                failed(exc.reason, retry_after=exc.retry_after)
                if attempts > self.settings.max_retries:
                    raise _LeafFailure(
                        f"judge call failed: {exc.reason} (gave up after {attempts} attempts)"
                    ) from None
                time.sleep(self.backoff(attempts - 1, exc.retry_after))
                continue
            except PermanentLLMError as exc:
                failed(str(exc))
                raise _LeafFailure(f"judge call failed: {exc}") from None
            self.accounting.add(response.usage)
            call_ids.append(
                self.audit.write(
                    {
                        **base,
                        "duration_s": round(time.monotonic() - t0, 3),
                        "request": {**req_meta, "structured_output": response.structured},
                        "response": {
                            "text": response.text,
                            "model": response.model,
                            "usage": response.usage.to_dict(),
                        },
                        "error": None,
                    },
                    messages,
                )
            )
            return response, attempts, call_ids

    def run(self, item: WorkItem) -> ItemResult:
        messages = list(item.messages)
        pending = list(item.leaf_ids)
        verdicts: dict[str, Verdict] = {}
        problems: dict[str, str] = {}
        usage = Usage()
        call_ids: list[int] = []
        attempts = 0
        structured = self.structured
        for ask in (1, 2):
            try:
                response, n, ids = self._send(item, messages, pending)
            except _LeafFailure as exc:
                for leaf_id in pending:
                    problems[leaf_id] = str(exc)
                break
            attempts += n
            call_ids += ids
            usage = usage + response.usage
            structured = response.structured
            got, bad = parse_verdicts(response.text, pending)
            verdicts.update(got)
            problems = {k: v for k, v in problems.items() if k not in got}
            problems.update({k: f"unusable verdict: {v}" for k, v in bad.items()})
            pending = [leaf_id for leaf_id in pending if leaf_id in bad]
            if not pending:
                break
            if ask == 1:
                summary = "; ".join(f"{k}: {v}" for k, v in list(bad.items())[:5])
                messages += [("assistant", response.text), ("user", RETRY_MESSAGE.format(problem=summary))]
            else:
                for leaf_id in pending:
                    problems[leaf_id] += " (asked twice)"
        return ItemResult(item, verdicts, problems, usage, call_ids, attempts, structured)


def _dummy(text: str, backend: LLMBackend) -> str:
    if backend.dummy and not text.startswith(DUMMY_PREFIX):
        return f"{DUMMY_PREFIX} {text}"
    return text


def plan_for(
    executed: Path, paper: Paper, options: JudgeOptions
) -> tuple[ExecutedSubmission, RubricNode, Plan]:
    sub = load_executed(executed)
    if sub.metadata.status == "infra_error":
        raise ExecutionInfraError(
            f"{executed}: the reproduction ended in an infrastructure error "
            f"({sub.metadata.error or 'no detail'}); nothing to judge"
        )
    rubric = code_dev_rubric(paper.rubric) if options.code_dev else paper.rubric
    return sub, rubric, build_plan(sub, paper, rubric, options.settings)


def _open_cache(options: JudgeOptions) -> LeafCache:
    return LeafCache(options.cache_path or options.settings.cache_path)


def estimate_executed(executed: Path, paper: Paper, options: JudgeOptions) -> tuple[Estimate, int]:
    """Expected tokens and dollars for the calls a grade would send now (cached leaves excluded),
    and how many leaves the cache already answers. Sends nothing."""
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


def judge_executed(
    executed: Path,
    paper: Paper,
    out_dir: Path,
    options: JudgeOptions,
    backend: LLMBackend,
    progress: ProgressFn | None = None,
) -> JudgeOutcome:
    """Grade EXECUTED against PAPER's rubric; write grade.json, judge_summary.json, judge_calls.jsonl."""
    settings = options.settings
    if backend.model != settings.model:  # prices and cache keys follow the model actually asked
        settings = settings.model_copy(update={"model": backend.model})
    started_at = _now()
    sub, rubric, plan = plan_for(
        executed, paper, JudgeOptions(settings, options.code_dev, options.cache_path)
    )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    grades: dict[str, LeafGrade] = {}
    total = len(plan.leaves)
    base_meta = {
        "judge": "reprobot",
        "model": backend.model,
        "dummy": backend.dummy,
        "prompt_version": settings.prompt_version,
    }

    def report(info: dict[str, Any]) -> None:
        if progress is not None:
            progress(len(grades), total, info)

    for ref in plan.no_call:
        grades[ref.leaf.id] = LeafGrade(
            0.0,
            True,
            _dummy(NO_OUTPUTS_EXPLANATION, backend),
            {
                **base_meta,
                "category": ref.leaf.task_category,
                "no_call": True,
                "cached": False,
                "tokens": Usage().to_dict(),
                "cost_usd": 0.0,
                "error": None,
            },
        )

    cache = _open_cache(JudgeOptions(settings, options.code_dev, options.cache_path))
    accounting = Accounting(settings)
    calls_path = out_dir / "judge_calls.jsonl"
    cached_leaves = 0
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
                    _dummy(hit.explanation, backend),
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
            runner = CallRunner(backend, settings, AuditLog(fh), accounting)
            _run_items(todo, runner, settings, cache, grades, base_meta, backend, report)
    finally:
        cache.close()

    graded = grade_tree(rubric, lambda leaf: grades[leaf.id])
    grade_path = out_dir / "grade.json"
    dump_graded(graded, grade_path)
    summary_obj = summarize(graded)
    summary: dict[str, Any] = {
        "paper_id": paper.id,
        "mode": "code-dev" if options.code_dev else "full",
        "model": backend.model,
        "dummy": backend.dummy,
        "score": summary_obj.score,
        "coverage": summary_obj.coverage,
        "by_category": summary_obj.to_dict()["by_category"],
        "leaves": summary_obj.leaves,
        "passed": summary_obj.passed,
        "invalid": summary_obj.invalid,
        "tokens": accounting.usage.to_dict(),
        "cost_usd": accounting.cost,
        "calls": accounting.calls,
        "cached_leaves": cached_leaves,
        "leaves_per_call": settings.leaves_per_call,
        "started_at": started_at,
        "finished_at": _now(),
        "prompt_version": settings.prompt_version,
        "run_status": sub.metadata.status,
    }
    if backend.dummy:
        summary["note"] = f"{DUMMY_PREFIX} scores are placeholders from a seeded dummy judge, not a model's."
    summary_path = out_dir / "judge_summary.json"
    summary_path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return JudgeOutcome(graded, summary, grade_path, summary_path, calls_path)


def _record(
    result: ItemResult,
    settings: JudgeSettings,
    cache: LeafCache,
    grades: dict[str, LeafGrade],
    base_meta: Mapping[str, Any],
    backend: LLMBackend,
) -> None:
    item = result.item
    shares = result.usage.split(len(item.leaves))
    price = settings.price()
    rows = []
    for ref, key, share in zip(item.leaves, item.keys, shares, strict=True):
        leaf_id = ref.leaf.id
        meta = {
            **base_meta,
            "category": ref.leaf.task_category,
            "evidence_files": list(item.evidence_files),
            "evidence_sha256": item.evidence_sha256,
            "leaves_in_call": len(item.leaves),
            "call_ids": result.call_ids,
            "attempts": result.attempts,
            "structured_output": result.structured,
            "tokens": share.to_dict(),
            "cost_usd": cost_usd(share, price),
            "cached": False,
            "no_call": False,
            "error": None,
        }
        verdict = result.verdicts.get(leaf_id)
        if verdict is not None:
            explanation = _dummy(verdict.explanation, backend)
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
            reason = result.problems.get(leaf_id, "no verdict")
            grades[leaf_id] = LeafGrade.invalid(
                _dummy(f"Could not grade: {reason}", backend),
                {**meta, "error": reason, "error_kind": error_kind(reason)},
            )
    if rows:
        cache.put_many(rows)


def _run_items(
    todo: Sequence[WorkItem],
    runner: CallRunner,
    settings: JudgeSettings,
    cache: LeafCache,
    grades: dict[str, LeafGrade],
    base_meta: Mapping[str, Any],
    backend: LLMBackend,
    report: Callable[[dict[str, Any]], None],
) -> None:
    first, second, rest = wave_order(todo)
    queue = [*second, *rest]
    barrier = len(second)  # the second wave is sent together, after the first call returns
    pool = ThreadPoolExecutor(max_workers=settings.concurrency, thread_name_prefix="judge")
    inflight: dict[Future[ItemResult], WorkItem] = {}

    def fail_budget(items: Sequence[WorkItem], reason: str) -> None:
        for item in items:
            for ref in item.leaves:
                grades[ref.leaf.id] = LeafGrade.invalid(
                    _dummy(f"Could not grade: {reason}", backend),
                    {**base_meta, "category": ref.leaf.task_category, "error": reason, "cached": False},
                )

    def run_to_completion(futures: Sequence[Future[ItemResult]]) -> None:
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                item = inflight.pop(fut)
                result = fut.result()
                # Cache in the worker's order of completion: a kill keeps what was paid for.
                _record(result, settings, cache, grades, base_meta, backend)
                report({"stage": "graded", "item": item.index, "leaf_ids": list(item.leaf_ids)})

    try:
        for wave in (first, queue[:barrier]):
            futures = []
            for item in wave:
                reason = runner.accounting.exhausted()
                if reason:
                    fail_budget([item], reason)
                    continue
                fut = pool.submit(runner.run, item)
                inflight[fut] = item
                futures.append(fut)
            run_to_completion(futures)
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
                fut = pool.submit(runner.run, item)
                inflight[fut] = item
                active.add(fut)
            if not active:
                break
            done, _ = wait(active, return_when=FIRST_COMPLETED)
            for fut in done:
                active.discard(fut)
                item = inflight.pop(fut)
                _record(fut.result(), settings, cache, grades, base_meta, backend)
                report({"stage": "graded", "item": item.index, "leaf_ids": list(item.leaf_ids)})
    except BaseException:
        # Interrupted (Ctrl-C, a failing progress hook, a fatal backend error): send nothing new,
        # let the calls in flight finish and keep their verdicts in the cache, then re-raise.
        pool.shutdown(wait=True, cancel_futures=True)
        for fut, _item in list(inflight.items()):
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                _record(fut.result(), settings, cache, grades, base_meta, backend)
        raise
    pool.shutdown(wait=True)
