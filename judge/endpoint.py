"""The endpoint a grade was made with, as recorded in judge_summary.json: which host (never a key or
a path), the capabilities negotiated with it during the run, what was learned on the way, and how
many requests it was sent (failed ones included).

Capabilities are learned, not assumed: the backend starts from the configuration (JSON schema
answers, the output-cap parameter of the API, the model's known or configured context window) and
steps down when the endpoint refuses (``json_schema`` -> ``json_object`` with the schema in the
prompt -> ``text`` with the rules in the prompt; ``max_completion_tokens`` <-> ``max_tokens``; a
context window read from the endpoint's own refusal). Each step is one line in ``learned``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

OPENAI_HOST = "api.openai.com"
RESPONSE_FORMATS = ("json_schema", "json_object", "text")  # best first: the order of the fallback


def endpoint_host(base_url: str | None) -> str:
    """``host[:port]`` of an endpoint URL: no scheme, user, password, path or query (no secret)."""
    if not base_url:
        return OPENAI_HOST
    parts = urlsplit(base_url if "//" in base_url else f"//{base_url}")
    host = parts.hostname or "unknown"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{host}:{port}" if port else host


def is_openai_host(host: str) -> bool:
    return host == OPENAI_HOST


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return int(value)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What the endpoint was asked with at the end of the run (the negotiated state)."""

    response_format: str = "json_schema"  # json_schema | json_object | text
    output_cap_param: str | None = "max_completion_tokens"  # max_completion_tokens | max_tokens | None
    max_output_tokens: int | None = None  # the cap before the context clamps it
    context_window_tokens: int | None = None
    context_source: str = "unknown"  # configured | known (the model's published window) | learned | unknown
    context_margin: float = 0.0  # share of the window kept free (tokenizers that differ from o200k)
    reasoning_effort: str | None = None  # sent to reasoning models only

    def to_dict(self) -> dict[str, Any]:
        return {
            "response_format": self.response_format,
            "output_cap_param": self.output_cap_param,
            "max_output_tokens": self.max_output_tokens,
            "context_window_tokens": self.context_window_tokens,
            "context_source": self.context_source,
            "context_margin": self.context_margin,
            "reasoning_effort": self.reasoning_effort,
        }

    @classmethod
    def from_dict(cls, d: Any) -> Capabilities:
        if not isinstance(d, Mapping):
            return cls()
        fmt = d.get("response_format")
        margin = d.get("context_margin")
        return cls(
            response_format=fmt if fmt in RESPONSE_FORMATS else "text",
            output_cap_param=_str(d.get("output_cap_param")),
            max_output_tokens=_int(d.get("max_output_tokens")),
            context_window_tokens=_int(d.get("context_window_tokens")),
            context_source=_str(d.get("context_source")) or "unknown",
            context_margin=float(margin)
            if isinstance(margin, int | float) and math.isfinite(margin)
            else 0.0,
            reasoning_effort=_str(d.get("reasoning_effort")),
        )


@dataclass(frozen=True, slots=True)
class EndpointRecord:
    backend: str  # "openai-compatible", "dummy"
    host: str  # host[:port] only
    api: str = "chat.completions"
    capabilities: Capabilities = Capabilities()
    learned: tuple[str, ...] = ()  # one line per capability stepped down or read from the endpoint
    requests: int = 0  # requests sent, failed ones included
    failed_requests: int = 0  # of those, the ones without an answer
    refused_unsent: int = 0  # calls refused before sending (a prompt that cannot fit, a known refusal)

    def describe(self) -> str:
        """One line for a terminal: where the judge graded and what the endpoint accepted."""
        if self.api == "none":
            return f"endpoint: none (the {self.backend} judge, offline); requests {self.requests}"
        c = self.capabilities
        window = (
            f"context {c.context_window_tokens:,} tokens ({c.context_source}, margin {c.context_margin:.0%})"
            if c.context_window_tokens
            else "context window unknown"
        )
        return (
            f"endpoint {self.host} ({self.backend}): {c.response_format} answers, output cap "
            f"{c.output_cap_param}, {window}; requests {self.requests} ({self.failed_requests} failed, "
            f"{self.refused_unsent} refused unsent)"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "host": self.host,
            "api": self.api,
            "capabilities": self.capabilities.to_dict(),
            "learned": list(self.learned),
            "requests": self.requests,
            "failed_requests": self.failed_requests,
            "refused_unsent": self.refused_unsent,
        }

    @classmethod
    def from_dict(cls, d: Any) -> EndpointRecord | None:
        if not isinstance(d, Mapping):
            return None
        learned = d.get("learned")
        return cls(
            backend=_str(d.get("backend")) or "unknown",
            host=_str(d.get("host")) or "unknown",
            api=_str(d.get("api")) or "chat.completions",
            capabilities=Capabilities.from_dict(d.get("capabilities")),
            learned=tuple(x for x in learned if isinstance(x, str)) if isinstance(learned, list) else (),
            requests=_int(d.get("requests")) or 0,
            failed_requests=_int(d.get("failed_requests")) or 0,
            refused_unsent=_int(d.get("refused_unsent")) or 0,
        )
