"""What a judge backend raises, each exception with its ``kind`` (judge.failures.FailureKind).

The kind is the only thing the caller reads to decide what a failure means; the message is for
people. ``transient``: the endpoint's trouble, retried (rate limits, 5xx, timeouts, connection,
unreadable bodies). ``refused``: the endpoint refuses what the configuration asks for (a
parameter, the key, the model, a prompt over its context): a configuration error said in one
line, never an outage. ``permanent``: this one request failed for good for what it held.
"""

from __future__ import annotations

from typing import ClassVar

from judge.errors import JudgeError
from judge.failures import FailureKind


class _Kinded:
    """``kind`` (a class attribute) also read as ``failure_kind``, the name callers may look for."""

    kind: ClassVar[FailureKind]

    @property
    def failure_kind(self) -> FailureKind:
        return self.kind


class JudgeConfigError(_Kinded, JudgeError):
    """The judge cannot start: no API key, bad endpoint settings, a budget it cannot enforce."""

    kind: ClassVar[FailureKind] = FailureKind.REFUSED


class JudgeBackendFatal(_Kinded, JudgeError):
    """The endpoint refuses every request (bad key, unknown model): stop, do not mark leaves."""

    kind: ClassVar[FailureKind] = FailureKind.REFUSED
    exit_code = 1  # the organizer's configuration, never an outage


class TransientLLMError(_Kinded, Exception):
    """The endpoint's trouble: retry (with the server's Retry-After when it gave one)."""

    kind: ClassVar[FailureKind] = FailureKind.TRANSIENT

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class PermanentLLMError(_Kinded, Exception):
    """This request failed for good for what it held: the leaves it grades become invalid."""

    kind: ClassVar[FailureKind] = FailureKind.PERMANENT


class RequestRefused(PermanentLLMError):
    """The endpoint refuses what the configuration asks for (a parameter, a prompt over its
    context): no retry, the leaves become invalid, and the run says it once."""

    kind: ClassVar[FailureKind] = FailureKind.REFUSED


class ContextOverflow(RequestRefused):
    """The prompt (plus the smallest useful answer) cannot fit the model's context window."""

    def __init__(self, reason: str, window: int | None = None, prompt_tokens: int | None = None) -> None:
        super().__init__(reason)
        self.window = window
        self.prompt_tokens = prompt_tokens


class EndpointAdapted(RequestRefused):
    """The endpoint refused something the backend can do without (a response format, the name of
    the output-cap parameter, a cap too large for its context): the backend has adapted and
    remembers it for the run. Send the same request again (at most ``MAX_ADAPTATIONS`` times)."""


class StructuredOutputUnsupported(EndpointAdapted):
    """The endpoint refused the response format asked for; the backend has already stepped down
    to the next format (JSON schema -> JSON object -> plain text): send the request again."""


MAX_ADAPTATIONS = 4  # two formats to step down, one cap parameter to swap, one cap to clamp
