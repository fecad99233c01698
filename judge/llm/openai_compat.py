"""The OpenAI-compatible backend: Chat Completions through the official ``openai`` client, against
OpenAI or any compatible endpoint (Azure, vLLM, llama.cpp, Ollama).

Retries are the grader's job (the client's own are off), so the backend translates every failure
into an exception of ``judge.llm.errors`` with its kind: transient (429, 5xx, timeouts, connection
errors, unreadable bodies; with the server's Retry-After), structured output refused (the caller
resends), refused (the configuration: key, model, parameter, context) or permanent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from judge.config import JudgeSettings, is_reasoning_model
from judge.llm.errors import (
    JudgeBackendFatal,
    JudgeConfigError,
    PermanentLLMError,
    StructuredOutputUnsupported,
    TransientLLMError,
)
from judge.llm.seam import LLMRequest, LLMResponse, Usage


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
