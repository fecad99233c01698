"""Sending judge calls: the audit log, retries with backoff, the structured-output fallback.

``CallRunner.send`` sends one request with retries (transient failures, jittered backoff honouring
Retry-After), the fallback to plain text when an endpoint refuses structured output, and an audit
line per attempt. Every protocol sends its calls through it and returns an ``ItemResult``. Every
line written to judge_calls.jsonl is scrubbed of the configured secrets.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from judge.accounting import Accounting
from judge.config import JudgeSettings
from judge.failures import FailureKind
from judge.llm import (
    KIND_GRADES,
    LLMBackend,
    LLMRequest,
    LLMResponse,
    PermanentLLMError,
    TransientLLMError,
    Usage,
)
from judge.llm.errors import MAX_ADAPTATIONS, EndpointAdapted
from judge.plan import WorkItem
from judge.prompts import RESPONSE_SCHEMA_NAME, Verdict
from judge.secrets import NO_SECRETS, Scrubber


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class AuditLog:
    """judge_calls.jsonl: one line per request attempt. A message body is written in full the first
    time it appears in the file; later lines name it by sha256 (the 150 KB paper is stored once)."""

    def __init__(self, fh: IO[str], scrubber: Scrubber = NO_SECRETS) -> None:
        self._fh = fh
        self._scrub = scrubber
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
            self._fh.write(self._scrub.text(json.dumps(line, ensure_ascii=False, default=str)) + "\n")
            self._fh.flush()
            return self._n


class LeafFailure(Exception):
    """This call failed for good: the leaves it grades cannot be graded (a value, not a crash).
    ``kind`` is set here, where the backend's exception is caught, and travels with the leaves."""

    def __init__(self, kind: FailureKind, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason

    @property
    def problem(self) -> Problem:
        return Problem(self.kind, self.reason)


@dataclass(frozen=True, slots=True)
class Problem:
    """Why one leaf has no verdict: the typed kind and the reason (for people)."""

    kind: FailureKind
    reason: str

    def also(self, note: str) -> Problem:
        return Problem(self.kind, self.reason + note)


@dataclass(frozen=True, slots=True)
class LeafAnswer:
    """What a protocol keeps of one leaf's answer besides its verdict."""

    full_judge_response: str | None = None
    shown_files: tuple[str, ...] | None = None  # the files the grading call showed (None: the item's)


def declared_kind(exc: BaseException) -> FailureKind | None:
    """The failure kind a backend exception declares in its ``failure_kind`` attribute, if any (a
    refused parameter, a prompt over the context window)."""
    declared = getattr(exc, "failure_kind", None)
    if isinstance(declared, FailureKind):
        return declared
    if isinstance(declared, str):
        try:
            return FailureKind(declared)
        except ValueError:
            return None
    return None


def kind_of(exc: BaseException, default: FailureKind) -> FailureKind:
    """The kind an exception declares, else the kind of its class."""
    return declared_kind(exc) or default


@dataclass
class Sent:
    response: LLMResponse
    attempts: int
    call_ids: list[int]
    cost_usd: float | None


@dataclass
class ItemResult:
    item: WorkItem[Any]
    verdicts: dict[str, Verdict]
    problems: dict[str, Problem]
    usage: Usage
    call_ids: list[int]
    attempts: int
    structured: bool
    cost_usd: float | None = 0.0
    usage_by_model: dict[str, Usage] = field(default_factory=dict)
    details: dict[str, LeafAnswer] = field(default_factory=dict)

    def add(self, model: str, sent: Sent) -> None:
        u = sent.response.usage
        self.usage = self.usage + u
        self.usage_by_model[model] = self.usage_by_model.get(model, Usage()) + u
        self.call_ids += sent.call_ids
        self.attempts += sent.attempts
        if self.cost_usd is not None:
            self.cost_usd = None if sent.cost_usd is None else self.cost_usd + sent.cost_usd


class CallRunner:
    """Sends the calls of work items, with retries and fallback; runs in worker threads."""

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

    def send(
        self,
        item: WorkItem[Any],
        messages: Sequence[tuple[str, str]],
        leaf_ids: Sequence[str],
        *,
        kind: str = KIND_GRADES,
        model: str | None = None,
        schema: Mapping[str, Any] | None = None,
        schema_name: str = RESPONSE_SCHEMA_NAME,
    ) -> Sent:
        """One request, retried; raises LeafFailure when it cannot be answered."""
        model = model or self.backend.model
        attempts = 0
        call_ids: list[int] = []
        give_up_at = time.monotonic() + self.settings.retry_for_s
        adaptations = 0
        while True:
            attempts += 1
            request = LLMRequest(
                tuple(messages),
                tuple(leaf_ids),
                schema,
                schema_name,
                self.settings.timeout_s,
                model,
                kind,
            )
            started, t0 = now(), time.monotonic()
            base = {
                "item": item.index,
                "leaf_ids": list(leaf_ids),
                "kind": kind,
                "attempt": attempts,
                "started_at": started,
            }
            req_meta = {"model": model, "structured_output": schema is not None}

            def failed(error: str, **extra: Any) -> None:  # a failed call goes on the audit record too
                record = {**base, "duration_s": round(time.monotonic() - t0, 3), "request": req_meta}  # noqa: B023
                entry = {**record, "response": None, "error": error, **extra}  # noqa: B023
                call_ids.append(self.audit.write(entry, messages))

            try:
                response = self.backend.complete(request)
            except EndpointAdapted as exc:  # the backend stepped down (format, cap): send again
                failed(f"the endpoint refused; adapted, resending: {str(exc)[:300]}")
                adaptations += 1
                if adaptations > MAX_ADAPTATIONS:
                    raise LeafFailure(
                        kind_of(exc, FailureKind.REFUSED),
                        f"judge call failed: the endpoint kept refusing ({exc})",
                    ) from None
                attempts -= 1
                continue
            except TransientLLMError as exc:
                failed(exc.reason, retry_after=exc.retry_after)
                delay = self.backoff(attempts - 1, exc.retry_after)
                cap = self.settings.max_retries
                if (cap is not None and attempts > cap) or time.monotonic() + delay > give_up_at:
                    raise LeafFailure(
                        kind_of(exc, FailureKind.TRANSIENT),
                        f"judge call failed: {exc.reason} (gave up after {attempts} attempts)",
                    ) from None
                time.sleep(delay)
                continue
            except PermanentLLMError as exc:  # refused (configuration) or permanent (this request)
                failed(str(exc))
                raise LeafFailure(kind_of(exc, FailureKind.PERMANENT), f"judge call failed: {exc}") from None
            except Exception as exc:  # any other backend error that declares its kind fails these leaves
                declared = declared_kind(exc)
                if declared is None:
                    raise  # JudgeBackendFatal and bugs stop the grade
                failed(str(exc))
                raise LeafFailure(declared, f"judge call failed: {exc}") from None
            # priced by the model asked for, as configured (never the name an endpoint echoes)
            cost = self.accounting.add(response.usage, model)
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
            return Sent(response, attempts, call_ids, cost)
