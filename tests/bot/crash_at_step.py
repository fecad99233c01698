"""Run the ``reprobot`` command line in a process that SIGKILLs itself right after step
``REPROBOT_TEST_CRASH_AFTER`` (a test entry point: the crash-recovery tests' way to die like ``kill -9``
between any two committed steps, without a hook in the production signatures)."""

from __future__ import annotations

import os
import signal

from bot.cli import run
from bot.steps import on_step

TARGET = os.environ.get("REPROBOT_TEST_CRASH_AFTER", "")


def _die_at(step: str) -> None:
    if step == TARGET:
        os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    on_step(_die_at)
    run()
