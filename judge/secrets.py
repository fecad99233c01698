"""No secret in any output: text from the endpoint is scrubbed of every configured secret.

A ``Scrubber`` holds the secret values of the deployment (judge API key, webhook secret, GitHub
tokens and key) and replaces every occurrence, and every line of a multi-line secret, with
``[REDACTED]`` in text before it is written anywhere: grade.json, judge_calls.jsonl, the summary,
the report and comment (which are made from those), error lines and logs. Secrets shorter than
8 characters are not scrubbed (they would redact ordinary words), and are refused nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

REDACTED = "[REDACTED]"
MIN_SECRET_CHARS = 8


@dataclass(frozen=True)
class Scrubber:
    secrets: tuple[str, ...] = ()

    @classmethod
    def of(cls, values: Iterable[str | None]) -> Scrubber:
        found: set[str] = set()
        for value in values:
            if not value:
                continue
            for piece in (value, *value.splitlines()):
                piece = piece.strip()
                if len(piece) >= MIN_SECRET_CHARS and not piece.startswith("-----"):
                    found.add(piece)
        # longest first, so a secret containing another is replaced whole
        return cls(tuple(sorted(found, key=len, reverse=True)))

    def __bool__(self) -> bool:
        return bool(self.secrets)

    def text(self, value: str) -> str:
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return value

    def obj(self, value: Any) -> Any:
        """A JSON-like value with every string scrubbed (mapping keys too)."""
        if not self.secrets:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.text(str(k)): self.obj(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.obj(v) for v in value]
        return value


NO_SECRETS = Scrubber()
