"""Named steps of a job (and of a webhook delivery), each reached after its result is committed.

``reached`` is the one place every step passes through: it logs the step (the audit trail of a job)
and tells the listeners registered with ``on_step`` (a process that audits or, in the crash-recovery
tests, dies like ``kill -9`` at a chosen step). The production code registers none.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger("reprobot.steps")

StepListener = Callable[[str], None]
_listeners: list[StepListener] = []


def on_step(listener: StepListener) -> None:
    _listeners.append(listener)


def reached(step: str, job_id: int | None = None) -> None:
    log.debug("job %s: %s", job_id, step)
    for listener in tuple(_listeners):
        listener(step)
