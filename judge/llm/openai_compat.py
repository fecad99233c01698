"""The OpenAI-compatible backend: Chat Completions through the official ``openai`` client, against
OpenAI or any compatible endpoint (Azure, vLLM, llama.cpp, Ollama, TGI).

Every call is bounded before it is sent: its prompt must fit the model's window (configured,
known, or learned from the endpoint) with room for an answer, and it carries an output cap (the
API's parameter for it, clamped to the room left). On a timeout the client closes the connection:
Chat Completions has no cancel call, so that is how a server that watches its connections (vLLM;
llama.cpp's, for a request still waiting for the model) stops work nobody waits for; the cap
bounds what a request that keeps running can cost.

Capabilities are learned (judge.llm.negotiation): a refused response format steps down (JSON
schema -> JSON object with the schema in the prompt -> plain text with it), whatever status the
refusal uses; a refused cap parameter is swapped; an overflow teaches the window. Retries are the
caller's (the client's own are off): every failure becomes an exception of judge.llm.errors with
its kind: transient (429, 5xx, timeouts, connection errors, unreadable bodies; with Retry-After),
adapted (send again), refused (key, model, a parameter the run needs, a prompt over the context:
the configuration's, never an outage) or permanent. A base URL needs no key (no Authorization
header is sent without one).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from judge.config import JudgeSettings, is_reasoning_model
from judge.context import output_cap, prompt_tokens, refusal
from judge.endpoint import EndpointRecord
from judge.llm.errors import (
    ContextOverflow,
    EndpointAdapted,
    JudgeBackendFatal,
    JudgeConfigError,
    PermanentLLMError,
    RequestRefused,
    StructuredOutputUnsupported,
    TransientLLMError,
)
from judge.llm.negotiation import CAP_PARAMS, Negotiation
from judge.llm.refusals import Overflow, about_the_content, context_overflow, first_line, named_parameter
from judge.llm.seam import LLMRequest, LLMResponse, Usage

NOT_SENT_PARAMS = ("model", "messages", "timeout", "extra_headers")  # never "the refused parameter"


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


def _digest(model: str, messages: list[tuple[str, str]]) -> str:
    h = hashlib.sha256(model.encode())
    for role, content in messages:
        h.update(b"\x00" + role.encode() + b"\x00" + content.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def schema_instruction(schema: Mapping[str, Any]) -> str:
    """The schema said in the prompt, for endpoints that cannot be asked for it as a format."""
    return (
        "Answer with a single JSON object and nothing else (no prose around it), matching this JSON "
        "schema:\n" + json.dumps(schema, separators=(",", ":"))
    )


class OpenAIBackend:
    """Chat Completions through the official client, bounded, with what the endpoint accepts learned."""

    name = "openai-compatible"
    caveat: str | None = None

    def __init__(self, settings: JudgeSettings, api_key: str | None) -> None:
        import openai  # imported here so the dummy judge never needs it

        self._openai = openai
        self.settings = settings
        self.model = settings.model
        self.api_key = api_key or None
        self.secrets: tuple[str, ...] = (api_key,) if api_key else ()
        self.negotiation = Negotiation(settings, self.name)
        # the client needs some key; without one the Authorization header is omitted on every request
        self._client = openai.OpenAI(api_key=api_key or "keyless", base_url=settings.base_url, max_retries=0)

    @classmethod
    def from_settings(cls, settings: JudgeSettings, api_key: str | None) -> OpenAIBackend:
        if not api_key and settings.openai_endpoint:
            raise JudgeConfigError(
                "no judge API key: set GRADER_OPENAI_API_KEY (or OPENAI_API_KEY); a local server "
                "without keys: --base-url URL (judge.base_url); no model at all: --judge dummy"
            )
        models = {settings.model}
        if settings.protocol == "paperbench":  # it also ranks and parses
            models |= {settings.ranking_model, settings.parsing_model}
        unpriced = sorted(m for m in models if settings.price(m) is None)
        if settings.budget_usd is not None and unpriced:
            raise JudgeConfigError(
                f"judge.budget_usd is set but {', '.join(unpriced)} at {settings.endpoint_host} has no "
                "price: give judge.prices for it, or bound the run with judge.budget_tokens"
            )
        return cls(settings, api_key)

    def endpoint(self) -> EndpointRecord:
        return self.negotiation.record(self.model)

    def complete(self, request: LLMRequest) -> LLMResponse:
        neg = self.negotiation
        model = request.model or self.model
        if neg.refusal is not None:
            neg.unsent()
            raise RequestRefused(neg.refusal)
        fmt = neg.response_format if request.schema is not None else "text"
        messages = list(request.messages)
        if request.schema is not None and fmt != "json_schema":
            messages.append(("user", schema_instruction(request.schema)))
        n_prompt = prompt_tokens(messages)
        limit = neg.limit(model)
        too_long = refusal(self.settings, limit, model, n_prompt)
        if too_long:
            neg.unsent()
            raise ContextOverflow(too_long, limit.tokens, n_prompt)
        digest = _digest(model, messages)
        cap = neg.cap_for(digest, output_cap(self.settings, model, len(request.leaf_ids)))
        room = limit.room(n_prompt)
        cap = min(cap, room) if room is not None else cap
        kwargs: dict[str, Any] = {
            "model": model,
            "messages": [{"role": r, "content": c} for r, c in messages],
            "timeout": request.timeout_s,
            neg.cap_param: cap,
        }
        if fmt == "json_schema":
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": request.schema_name,
                    "schema": dict(request.schema or {}),
                    "strict": True,
                },
            }
        elif fmt == "json_object":
            kwargs["response_format"] = {"type": "json_object"}
        if self.settings.reasoning_effort and is_reasoning_model(model):
            kwargs["reasoning_effort"] = self.settings.reasoning_effort
        if self.api_key is None:
            kwargs["extra_headers"] = {"Authorization": self._openai.Omit()}
        neg.sent()
        try:
            completion = self._client.chat.completions.create(**kwargs)
        except Exception as exc:
            neg.failed()
            sent = [k for k in kwargs if k not in NOT_SENT_PARAMS]
            if isinstance(exc, self._openai.APITimeoutError):
                neg.timed_out(digest, cap)
            raise self._translate(exc, model, fmt, n_prompt, cap, request.timeout_s, sent) from None
        if not getattr(completion, "choices", None):
            neg.failed()
            raise TransientLLMError("response without choices")
        message = completion.choices[0].message
        text = message.content or ""
        if not text and getattr(message, "refusal", None):
            text = f"(refusal) {message.refusal}"
        raw = completion.model_dump(mode="json") if hasattr(completion, "model_dump") else {}
        usage = usage_from(completion.usage)
        return LLMResponse(text, usage, completion.model or model, fmt != "text", raw, fmt)

    # ------------------------------------------------------------------------- failures, typed
    def _translate(
        self, exc: Exception, model: str, fmt: str, n_prompt: int, cap: int, timeout_s: float, sent: list[str]
    ) -> Exception:
        openai = self._openai
        neg = self.negotiation
        if isinstance(exc, openai.APITimeoutError):
            return TransientLLMError(f"timed out after {timeout_s:g} s (the connection was closed)")
        if isinstance(exc, openai.APIConnectionError):
            return TransientLLMError(f"connection error: {exc.__class__.__name__}")
        if isinstance(exc, openai.RateLimitError):
            return TransientLLMError("rate limited (429)", _retry_after(exc.response.headers))
        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            return JudgeBackendFatal(f"the judge endpoint refused the key ({exc.status_code})")
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            said = f"HTTP {status}: {first_line(exc)}"
            overflow = context_overflow(exc)
            if overflow is not None:
                return self._overflow(overflow, model, n_prompt, cap, said)
            param = named_parameter(exc, sent)
            if param == "response_format" and neg.step_down_format(fmt, said):
                return StructuredOutputUnsupported(
                    f"{fmt} refused ({said}); sending as {neg.response_format}"
                )
            if param in CAP_PARAMS and neg.swap_cap_param(param, said):
                return EndpointAdapted(f"{param} refused ({said}); sending {neg.cap_param}")
            if param is not None:
                return RequestRefused(
                    neg.refuse_all(
                        f"the endpoint refuses the parameter {param} ({said}): the configuration's to fix"
                    )
                )
            if isinstance(exc, openai.NotFoundError):
                return JudgeBackendFatal(
                    f"the judge endpoint has no model {model!r} (404): {first_line(exc)}"
                )
            if status >= 500 or status in (408, 409):
                return TransientLLMError(f"server error {status}", _retry_after(exc.response.headers))
            if about_the_content(exc):  # what this request held (the submission's text) was refused
                return PermanentLLMError(f"request refused for its content ({said})")
            return RequestRefused(f"the endpoint refused the request ({said})")
        if isinstance(exc, openai.APIResponseValidationError):
            return TransientLLMError(f"malformed response body: {str(exc)[:200]}")
        if isinstance(exc, ValueError):  # the client could not decode the body (json.JSONDecodeError)
            return TransientLLMError(f"response body is not JSON: {str(exc)[:200]}")
        return exc

    def _overflow(self, o: Overflow, model: str, n_prompt: int, cap: int, said: str) -> Exception:
        """The endpoint said the request overflows its context: learn the window (and how its
        tokenizer counts), then resend with a smaller cap if the prompt itself fits."""
        neg = self.negotiation
        if o.window is not None:
            neg.learn_window(o.window, f"from the endpoint's refusal ({said[:60]})")
        if o.prompt_tokens is not None:
            neg.learn_token_ratio(o.prompt_tokens, n_prompt)
        window = o.window or neg.limit(model).tokens
        theirs = o.prompt_tokens
        if window is not None and theirs is not None and theirs + self.settings.min_output_tokens <= window:
            return EndpointAdapted(
                f"an output cap of {cap:,} tokens did not fit the context; sending a smaller one"
            )
        size = f"{theirs:,} tokens (the endpoint's count)" if theirs is not None else f"{n_prompt:,} tokens"
        where = f"context window of {window:,} tokens" if window is not None else "context window"
        return ContextOverflow(
            f"a prompt of {size} cannot fit {model}'s {where} ({said})", window, theirs or n_prompt
        )
