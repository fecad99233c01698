"""The LLM seam: a small Protocol, the real OpenAI-compatible backend, and a dummy judge.

``OpenAIBackend`` uses the official ``openai`` client against any OpenAI-compatible endpoint
(OpenAI, Azure, vLLM, Ollama) through Chat Completions, asking for structured output with
``response_format: json_schema``. Retries are the grader's job (the client's own are off), so the
backend translates failures into three kinds: transient (429, 5xx, timeouts, connection errors;
with the server's Retry-After), structured output refused (the caller resends without it), and
fatal (bad key, unknown model: nothing will work). ``DummyBackend`` is deterministic, makes no
network call, and declares its caveat, which every output prints. Every backend declares its
identity (``name``, ``caveat``, the ``secrets`` it holds); ``scrubbed`` wraps one so that no text
coming back from the endpoint (answers, error bodies) carries a configured secret.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from judge.config import JudgeSettings, is_reasoning_model
from judge.errors import JudgeError
from judge.fences import FENCE_CLOSE, FENCE_OPEN
from judge.protocols.tree import tree_paths
from judge.secrets import Scrubber
from judge.summary import DUMMY_CAVEAT
from judge.tokens import estimate_tokens

DUMMY_PREFIX = "[dummy judge]"
# What a request asks for (the dummy judge answers by it; the wire never carries it):
KIND_GRADES = "grades"  # reprobot protocol: JSON verdicts for the leaf ids
KIND_RANK = "rank"  # paperbench protocol: file paths, one a line
KIND_GRADE_TEXT = "grade_text"  # paperbench protocol: Expectations / Reality / Score
KIND_PARSE = "parse"  # paperbench protocol: the grading answer as {valid_score, score, explanation}


class JudgeConfigError(JudgeError):
    """The judge cannot start: no API key, bad endpoint settings."""


class JudgeBackendFatal(JudgeError):
    """The endpoint refuses every request (bad key, unknown model): stop, do not mark leaves."""

    exit_code = 3


class TransientLLMError(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class StructuredOutputUnsupported(Exception):
    """The endpoint rejected response_format; resend without it and parse the text."""


class PermanentLLMError(Exception):
    """This request failed for good (e.g. 400 context too long): the leaves become invalid."""


@dataclass(frozen=True, slots=True)
class Usage:
    input: int = 0
    cached_input: int = 0
    output: int = 0
    reasoning: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input + other.input,
            self.cached_input + other.cached_input,
            self.output + other.output,
            self.reasoning + other.reasoning,
        )

    def to_dict(self) -> dict[str, int]:
        return {
            "input": self.input,
            "cached_input": self.cached_input,
            "output": self.output,
            "reasoning": self.reasoning,
        }

    def split(self, n: int) -> list[Usage]:
        """Share this usage between n leaves (integer parts, remainders to the first ones)."""

        def parts(total: int) -> list[int]:
            q, r = divmod(total, n)
            return [q + (1 if i < r else 0) for i in range(n)]

        cols = [parts(self.input), parts(self.cached_input), parts(self.output), parts(self.reasoning)]
        return [Usage(*(c[i] for c in cols)) for i in range(n)]


@dataclass(frozen=True, slots=True)
class LLMRequest:
    messages: tuple[tuple[str, str], ...]  # (role, content)
    leaf_ids: tuple[str, ...]  # the criteria this request grades (the dummy judge answers them)
    schema: Mapping[str, Any] | None = None
    schema_name: str = "rubric_grades"
    timeout_s: float = 300.0
    model: str | None = None  # None: the backend's model
    kind: str = KIND_GRADES


@dataclass(frozen=True, slots=True)
class LLMResponse:
    text: str
    usage: Usage
    model: str
    structured: bool
    raw: Mapping[str, Any] = field(default_factory=dict)


class LLMBackend(Protocol):
    model: str
    name: str  # "openai-compatible", "dummy", ...
    caveat: str | None  # what every output must say beside a grade from this backend, if anything
    secrets: tuple[str, ...]  # values that must never appear in an output (the API key)

    def complete(self, request: LLMRequest) -> LLMResponse: ...


# --------------------------------------------------------------------------------------- OpenAI


def _retry_after(headers: Any) -> float | None:
    if headers is None:
        return None
    try:
        ms = headers.get("retry-after-ms")
        if ms is not None:
            return max(float(ms) / 1000.0, 0.0)
        value = headers.get("retry-after")
        if value is not None:
            return max(float(value), 0.0)
    except (TypeError, ValueError):
        return None
    return None


def _mentions_response_format(exc: Exception) -> bool:
    text = str(exc).lower()
    body = getattr(exc, "body", None)
    if body is not None:
        text += json.dumps(body, default=str).lower()
    return any(k in text for k in ("response_format", "json_schema", "structured output", "response format"))


def usage_from(raw_usage: Any) -> Usage:
    if raw_usage is None:
        return Usage()
    get = lambda o, k: o.get(k) if isinstance(o, Mapping) else getattr(o, k, None)  # noqa: E731
    prompt_details = get(raw_usage, "prompt_tokens_details")
    completion_details = get(raw_usage, "completion_tokens_details")
    return Usage(
        input=int(get(raw_usage, "prompt_tokens") or 0),
        cached_input=int((get(prompt_details, "cached_tokens") if prompt_details is not None else 0) or 0),
        output=int(get(raw_usage, "completion_tokens") or 0),
        reasoning=int(
            (get(completion_details, "reasoning_tokens") if completion_details is not None else 0) or 0
        ),
    )


class OpenAIBackend:
    """Chat Completions through the official client; structured output first, plain text after."""

    name = "openai-compatible"
    caveat: str | None = None

    def __init__(
        self,
        model: str,
        api_key: str,
        base_url: str | None = None,
        reasoning_effort: str | None = None,
        structured_output: bool = True,
    ) -> None:
        import openai  # imported here so the dummy judge never needs it

        self._openai = openai
        self.model = model
        self.reasoning_effort = reasoning_effort
        self.structured_output = structured_output
        self.secrets: tuple[str, ...] = (api_key,)
        self._client = openai.OpenAI(api_key=api_key, base_url=base_url, max_retries=0)

    @classmethod
    def from_settings(cls, settings: JudgeSettings, api_key: str | None) -> OpenAIBackend:
        if not api_key:
            raise JudgeConfigError(
                "no judge API key: set GRADER_OPENAI_API_KEY (or OPENAI_API_KEY),"
                " or use the dummy judge (--dummy)"
            )
        return cls(
            settings.model, api_key, settings.base_url, settings.reasoning_effort, settings.structured_output
        )

    def complete(self, request: LLMRequest) -> LLMResponse:
        openai = self._openai
        structured = self.structured_output and request.schema is not None
        model = request.model or self.model
        kwargs: dict[str, Any] = {
            "model": model,
            "messages": [{"role": r, "content": c} for r, c in request.messages],
            "timeout": request.timeout_s,
        }
        if structured:
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": request.schema_name,
                    "schema": dict(request.schema or {}),
                    "strict": True,
                },
            }
        if self.reasoning_effort and is_reasoning_model(model):
            kwargs["reasoning_effort"] = self.reasoning_effort
        try:
            completion = self._client.chat.completions.create(**kwargs)
        except openai.APITimeoutError:
            raise TransientLLMError(f"timed out after {request.timeout_s:g} s") from None
        except openai.APIConnectionError as exc:
            raise TransientLLMError(f"connection error: {exc.__class__.__name__}") from None
        except openai.RateLimitError as exc:
            raise TransientLLMError("rate limited (429)", _retry_after(exc.response.headers)) from None
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            raise JudgeBackendFatal(f"the judge endpoint refused the key ({exc.status_code})") from None
        except openai.NotFoundError as exc:
            raise JudgeBackendFatal(f"the judge endpoint has no model {model!r} (404): {exc}") from None
        except openai.APIStatusError as exc:
            if exc.status_code >= 500 or exc.status_code in (408, 409):
                raise TransientLLMError(
                    f"server error {exc.status_code}", _retry_after(exc.response.headers)
                ) from None
            if structured and exc.status_code in (400, 422) and _mentions_response_format(exc):
                self.structured_output = False
                raise StructuredOutputUnsupported(str(exc)) from None
            raise PermanentLLMError(f"request refused ({exc.status_code}): {str(exc)[:300]}") from None
        except openai.APIResponseValidationError as exc:
            raise TransientLLMError(f"malformed response body: {str(exc)[:200]}") from None
        except ValueError as exc:  # the client could not decode the body (json.JSONDecodeError)
            raise TransientLLMError(f"response body is not JSON: {str(exc)[:200]}") from None
        if not getattr(completion, "choices", None):
            raise TransientLLMError("response without choices")
        message = completion.choices[0].message
        text = message.content or ""
        if not text and getattr(message, "refusal", None):
            text = f"(refusal) {message.refusal}"
        raw = completion.model_dump(mode="json") if hasattr(completion, "model_dump") else {}
        return LLMResponse(text, usage_from(completion.usage), completion.model or model, structured, raw)


# ---------------------------------------------------------------------------------------- dummy


_WORD = re.compile(r"[a-z][a-z0-9_]{3,}")
_STOP = frozenset(
    "been have that this with from which their there were they when into only also such than then them "
    "these those each other more most some does done using used uses both least about above below under "
    "same paper section table figure results result reproduced reproduction implemented implementation "
    "correctly described computed code script submission criterion requirement".split()
)


def _content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


class DummyBackend:
    """Offline and deterministic, for wiring tests and the no-key demo: NOT a real grade.

    It "grades" a criterion by word overlap: the share of the requirement's content words that
    appear in the submission evidence of the prompt (fenced files, file tree, log; never the paper).
    That keeps it honest enough for a demo (a submission without the code scores lower); its
    caveat says what it is, and every explanation it writes starts with "[dummy judge]".
    """

    name = "dummy"
    caveat: str | None = DUMMY_CAVEAT
    secrets: tuple[str, ...] = ()

    def __init__(self, pass_rate: float = 0.5, model: str = "dummy") -> None:
        self.pass_rate = pass_rate  # overlap share needed to pass
        self.model = model

    @staticmethod
    def _evidence(messages: Sequence[tuple[str, str]]) -> str:
        chunks = []
        for _, content in messages:
            for block in content.split(FENCE_OPEN)[1:]:  # only fenced submission text, never the paper
                chunks.append(block.split(FENCE_CLOSE, 1)[0])
        return "\n".join(chunks).lower()

    @staticmethod
    def _requirement(messages: Sequence[tuple[str, str]], leaf_id: str) -> str:
        marker = f"### Criterion {leaf_id}\n"
        for _, content in reversed(messages):
            start = content.find(marker)
            if start < 0:
                continue
            end = content.find("\n\n", start)
            for line in content[start : end if end > 0 else None].splitlines():
                if line.startswith("Requirement:"):
                    return line.removeprefix("Requirement:")
        return ""

    def grade(self, messages: Sequence[tuple[str, str]], leaf_id: str) -> tuple[int, str]:
        words = _content_words(self._requirement(messages, leaf_id))
        evidence = self._evidence(messages)
        found = sorted(w for w in words if w in evidence)
        share = len(found) / len(words) if words else 0.0
        score = 1 if share >= self.pass_rate else 0
        why = (
            f"{DUMMY_PREFIX} not a real grade: {len(found)}/{len(words)} of the requirement's words "
            f"appear in the submission evidence ({share:.0%}; passes at {self.pass_rate:.0%})."
        )
        return score, why

    def _answer(self, request: LLMRequest) -> str:
        if request.kind == KIND_RANK:  # the first paths of the tree shown
            return "\n".join(tree_paths(self._evidence(request.messages[-1:]))[:10])
        if request.kind == KIND_GRADE_TEXT:
            leaf_id = request.leaf_ids[0] if request.leaf_ids else ""
            score, why = self.grade(request.messages, leaf_id)
            return f"Expectations: the requirement.\nReality: {why}\nScore: {score}"
        if request.kind == KIND_PARSE:
            text = request.messages[-1][1]
            found = re.search(r"Score:\s*([01])", text)
            reality = re.search(r"Reality:\s*(.*)", text)
            return json.dumps(
                {
                    "valid_score": found is not None,
                    "score": int(found.group(1)) if found else 0,
                    "explanation": reality.group(1) if reality else f"{DUMMY_PREFIX} no score in the answer",
                    "citations": [],
                }
            )
        grades = []
        for leaf_id in request.leaf_ids:
            score, why = self.grade(request.messages, leaf_id)
            grades.append({"leaf_id": leaf_id, "explanation": why, "score": score, "citations": []})
        return json.dumps({"grades": grades})

    def complete(self, request: LLMRequest) -> LLMResponse:
        text = self._answer(request)
        prompt_tokens = sum(estimate_tokens(c) for _, c in request.messages)
        usage = Usage(input=prompt_tokens, output=estimate_tokens(text))
        return LLMResponse(text, usage, self.model, request.schema is not None, {"dummy": True})


def make_backend(settings: JudgeSettings, api_key: str | None, dummy: bool = False) -> LLMBackend:
    """The backend the CLI and the bot use: dummy when asked, else OpenAI-compatible (key required)."""
    if dummy:
        return DummyBackend()
    return OpenAIBackend.from_settings(settings, api_key)


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
        except TransientLLMError as exc:
            raise TransientLLMError(s.text(exc.reason), exc.retry_after) from None
        except StructuredOutputUnsupported as exc:
            raise StructuredOutputUnsupported(s.text(str(exc))) from None
        except PermanentLLMError as exc:
            raise PermanentLLMError(s.text(str(exc))) from None
        except JudgeBackendFatal as exc:
            raise JudgeBackendFatal(s.text(str(exc))) from None
        return LLMResponse(s.text(r.text), r.usage, s.text(r.model), r.structured, s.obj(dict(r.raw)))


def scrubbed(backend: LLMBackend, extra_secrets: Sequence[str] = ()) -> LLMBackend:
    """``backend`` with its own secrets and ``extra_secrets`` scrubbed from everything it returns."""
    scrubber = Scrubber.of([*backend.secrets, *extra_secrets])
    return ScrubbedBackend(backend, scrubber) if scrubber else backend
