"""llama.cpp's OpenAI-compatible server as it was recorded answering reprobot's judge
(``../shared/fixtures/llamacpp/``: llama-cpp-python 0.3.36 serving SmolLM2-135M-Instruct, n_ctx 8192).

``llamacpp_standin()`` is the OpenAI stand-in with that server's manners: no key needed; a
``json_schema`` response format answered **HTTP 500** with the recorded validation error (a
``json_object`` one is honoured); a prompt plus its cap over the window answered 400 in the recorded
wording; only ``max_tokens`` read as the output cap (the newer name is ignored, so without it the
model generates until the context is full); any model name served and echoed; usage without
details. ``junk=True`` answers with the texts the model really gave (echoed fence hashes, invented
JSON keys, code for a file ranking), rambling until the cap. The recorded bodies are read from
the fixture, not retyped.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from tests.shared import SHARED
from tests.standins.openai_server import OpenAIStandIn

EXCHANGES = SHARED / "fixtures" / "llamacpp" / "exchanges.jsonl"
N_CTX = 8192


@lru_cache(maxsize=1)
def exchanges() -> tuple[dict[str, Any], ...]:
    rows = [json.loads(line) for line in EXCHANGES.read_text(encoding="utf-8").splitlines() if line.strip()]
    return tuple(r for r in rows if "request" in r)


def recorded_error(status: int, words: str) -> dict[str, Any]:
    """The body of the first recorded answer with this status whose message contains ``words``."""
    for row in exchanges():
        error = (row.get("response") or {}).get("error") or {}
        if row["status"] == status and words in str(error.get("message", "")):
            return {"error": error}
    raise LookupError(f"no recorded {status} answer saying {words!r}")


def recorded_answers() -> dict[str, list[str]]:
    """The model's recorded answers, by the kind of request they answered (reprobot's judge)."""
    out: dict[str, list[str]] = {"any": []}
    for row in exchanges():
        text = (row.get("response") or {}).get("text")
        if row["status"] != 200 or not isinstance(text, str) or row["request"].get("max_tokens"):
            continue
        out["any"].append(text)
        roles = row["request"]["messages"]
        if text.startswith("https://") or "```python" in text:
            out.setdefault("rank", []).append(text)
        elif row["request"]["model"] == "gpt-4o":
            out.setdefault("parse", []).append(text)
        elif len(roles) >= 7:
            out.setdefault("grade_text", []).append(text)
        else:
            out.setdefault("grades", []).append(text)
    return out


def llamacpp_standin(*, junk: bool = False, **kw: Any) -> OpenAIStandIn:
    settings: dict[str, Any] = {
        "require_key": False,
        "json_schema_status": 500,
        "json_schema_body": recorded_error(500, "Input should be 'text' or 'json_object'"),
        "context_window": N_CTX,
        "cap_params": ("max_tokens",),
        "usage_details": False,
        "junk": recorded_answers() if junk else None,
    }
    settings.update(kw)
    return OpenAIStandIn(**settings)
