"""Reading an endpoint's refusal: what it refused, from its error body, whatever the status.

Servers disagree on how they say no. OpenAI answers 400 with ``param`` and ``code``
(``unsupported_parameter``, ``context_length_exceeded``); llama.cpp's Python server answers a
``response_format`` it does not know with **HTTP 500** and a pydantic validation error naming
``('body', 'response_format', 'type')``; vLLM and llama.cpp word a context overflow as OpenAI once
did ("maximum context length is N tokens. However, you requested X tokens (Y in the messages, Z in
the completion)"); llama.cpp's C++ server sends ``n_ctx`` and ``n_prompt_tokens`` fields. So the
status decides nothing here: the body does. Pure functions over text, tested on recorded bodies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_MAX_CONTEXT = re.compile(r"maximum context length is (\d[\d,]*) tokens", re.IGNORECASE)
_REQUESTED = re.compile(
    r"requested (\d[\d,]*) tokens \((\d[\d,]*) in the messages, (\w+) in the completion\)", re.IGNORECASE
)
_RESULTED = re.compile(r"messages resulted in (\d[\d,]*) tokens", re.IGNORECASE)
_PYDANTIC_MSG = re.compile(r"""(?:'loc':\s*\(([^)]*)\),\s*)?'msg':\s*(?:"([^"]*)"|'([^']*)')""")
_OVERFLOW_WORDS = ("context_length_exceeded", "exceed_context_size", "exceeds the available context")


def _n(text: str | None) -> int | None:
    if text is None:
        return None
    digits = text.replace(",", "")
    return int(digits) if digits.isdigit() else None


def body_of(exc: Exception) -> Mapping[str, Any]:
    """The error object of an API error (``{"error": {...}}`` unwrapped), or {}."""
    body = getattr(exc, "body", None)
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        return inner if isinstance(inner, Mapping) else {"message": str(inner)}
    return {}


def error_text(exc: Exception) -> str:
    """Everything the endpoint said: the exception's message and its JSON body."""
    body = body_of(exc)
    extra = json.dumps(body, default=str) if body else ""
    return f"{exc} {extra}"


def first_line(exc: Exception, limit: int = 200) -> str:
    """The endpoint's own words, one line: its message's most telling line, shortened."""
    message = body_of(exc).get("message")
    text = message if isinstance(message, str) and message.strip() else str(exc)
    if m := _PYDANTIC_MSG.search(text):  # a validation error: where, and what it says
        where = ".".join(p.strip(" '\"") for p in m.group(1).split(",")) + ": " if m.group(1) else ""
        return f"{where}{m.group(2) or m.group(3)}"[:limit]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    telling = lines[0] if lines else ""
    return telling if len(telling) <= limit else telling[: limit - 3] + "..."


@dataclass(frozen=True, slots=True)
class Overflow:
    """A prompt over the context window, as the endpoint counted it."""

    window: int | None  # the model's window, when the endpoint said it
    prompt_tokens: int | None  # the endpoint's count of the messages, when it said it
    completion_tokens: int | None  # the output cap the request asked for, as the endpoint read it


def context_overflow(exc: Exception) -> Overflow | None:
    """The overflow this error reports, or None when it is about something else."""
    body = body_of(exc)
    text = error_text(exc)
    window = _n(m.group(1)) if (m := _MAX_CONTEXT.search(text)) else None
    if isinstance(body.get("n_ctx"), int):
        window = int(body["n_ctx"])
    overflowing = window is not None or any(w in text.lower() for w in _OVERFLOW_WORDS)
    if not overflowing:
        return None
    prompt = completion = None
    if m := _REQUESTED.search(text):
        prompt, completion = _n(m.group(2)), _n(m.group(3))
    elif m := _RESULTED.search(text):
        prompt = _n(m.group(1))
    if isinstance(body.get("n_prompt_tokens"), int):
        prompt = int(body["n_prompt_tokens"])
    return Overflow(window, prompt, completion)


_CONTENT_CODES = ("invalid_prompt", "content_filter", "content_policy_violation")


def about_the_content(exc: Exception) -> bool:
    """The refusal is about what the prompt held (a content filter), not about how it was asked."""
    code = body_of(exc).get("code")
    text = error_text(exc).lower()
    return code in _CONTENT_CODES or "content management policy" in text or "content_filter" in text


def named_parameter(exc: Exception, sent: Iterable[str]) -> str | None:
    """Which of the parameters ``sent`` the refusal names (its ``param`` field first, then its
    text: a validation error's location, "Unsupported parameter: 'max_tokens'", ...)."""
    names = list(sent)
    param = body_of(exc).get("param")
    if isinstance(param, str):
        for name in names:
            if param == name or param.startswith(f"{name}.") or param.startswith(f"{name}["):
                return name
    text = error_text(exc).lower()
    for name in names:
        if re.search(rf"(?<![a-z_]){re.escape(name.lower())}(?![a-z_])", text):
            return name
    return None
