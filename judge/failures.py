"""Why a leaf could not be graded, as a type: set where the exception is caught, carried as a field
(``judge_metadata["error_kind"]``), and the only thing that decides outage handling. Message text
decides nothing.

- ``transient``: the endpoint's trouble (rate limit, 5xx, timeout, connection, unreadable body):
  retried; when it persists the grade is incomplete (an outage: neutral, never a low score).
- ``refused``: the endpoint refuses what the configuration asks for (a parameter, the key, the
  model, a prompt over its context): a configuration error for the organizer, never an outage and
  never the submitter's low score.
- ``permanent``: this one request failed for good for what it held (the leaf is invalid).
- ``parse``: the model answered, but the answer could not be read as a grade (the leaf is invalid,
  as PaperBench scores a parse error).
"""

from __future__ import annotations

from enum import StrEnum


class FailureKind(StrEnum):
    TRANSIENT = "transient"
    REFUSED = "refused"
    PERMANENT = "permanent"
    PARSE = "parse"

    @property
    def is_outage(self) -> bool:
        """The judge's provider is at fault: retry later, report neutral."""
        return self is FailureKind.TRANSIENT
