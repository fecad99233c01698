"""No secret leaves a backend: ``scrubbed`` wraps one so that no text coming back from the endpoint
(answers, the model name, error messages) carries a configured secret."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from judge.endpoint import EndpointRecord
from judge.errors import JudgeError
from judge.llm.errors import PermanentLLMError, TransientLLMError
from judge.llm.seam import LLMBackend, LLMRequest, LLMResponse
from judge.secrets import Scrubber


class ScrubbedBackend:
    """A backend whose answers and error messages are scrubbed of every configured secret."""

    def __init__(self, inner: LLMBackend, scrubber: Scrubber) -> None:
        self.inner = inner
        self.scrubber = scrubber
        self.model = inner.model
        self.name = inner.name
        self.caveat = inner.caveat
        self.secrets = inner.secrets

    def complete(self, request: LLMRequest) -> LLMResponse:
        s = self.scrubber
        try:
            r = self.inner.complete(request)
        except (TransientLLMError, PermanentLLMError, JudgeError) as exc:
            # the same exception (its class, its kind, its fields), its message scrubbed
            exc.args = tuple(s.text(a) if isinstance(a, str) else a for a in exc.args)
            if isinstance(exc, TransientLLMError):
                exc.reason = s.text(exc.reason)
            raise exc from None
        return LLMResponse(
            s.text(r.text), r.usage, s.text(r.model), r.structured, s.obj(dict(r.raw)), r.response_format
        )

    def endpoint(self) -> EndpointRecord:
        record = self.inner.endpoint()
        return replace(record, learned=tuple(self.scrubber.text(line) for line in record.learned))


def scrubbed(backend: LLMBackend, extra_secrets: Sequence[str] = ()) -> LLMBackend:
    """``backend`` with its own secrets and ``extra_secrets`` scrubbed from everything it returns."""
    scrubber = Scrubber.of([*backend.secrets, *extra_secrets])
    return ScrubbedBackend(backend, scrubber) if scrubber else backend
