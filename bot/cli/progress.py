"""A live terminal view of where a grade stands (stage, elapsed time, the log's tail, leaves done,
and while judging the tokens and dollars spent so far)."""

from __future__ import annotations

import os
import shutil
import sys
import time
from typing import TextIO

from judge.progress import JudgeProgress, JudgeStage

FINAL_STAGES = frozenset({"rejected", "infra_error"})  # the command prints the outcome itself, once


class TerminalProgress:
    """``ProgressFn`` for the terminal: one line per update, or one line redrawn on a TTY."""

    def __init__(self, stream: TextIO | None = None, *, min_interval_s: float = 1.0) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.monotonic()
        self.min_interval_s = min_interval_s
        self._last_stage = ""
        self._last_at = 0.0

    def __call__(self, stage: str, detail: str) -> None:
        if stage in FINAL_STAGES:
            return
        now = time.monotonic()
        if stage == self._last_stage and now - self._last_at < self.min_interval_s:
            return
        elapsed = now - self.started
        line = f"[{elapsed:6.1f} s] {stage:<11} {' '.join(detail.split())}"
        if self.tty:
            width = max(20, self._columns() - 1)  # the line never wraps
            if len(line) > width:
                line = line[: width - 1] + "…"
            end = "\n" if stage != self._last_stage and self._last_stage else ""
            self.stream.write(f"{end}\r{line:<{width}}")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
        self._last_stage, self._last_at = stage, now

    def judge(self, event: JudgeProgress) -> None:
        """The judge's typed progress (``reprobot judge``): leaves, calls, tokens, dollars. Every
        tenth of the leaves, the first event and the last are shown; the rest only redraw a TTY."""
        step = max(event.total // 10, 1)
        shown = event.stage is JudgeStage.PLANNED or event.done == event.total or event.done % step == 0
        if shown or self.tty:
            self._last_at = 0.0 if shown else self._last_at  # a milestone is never swallowed
            self("judging", event.describe())

    def _columns(self) -> int:
        try:
            return os.get_terminal_size(self.stream.fileno()).columns
        except (OSError, AttributeError, ValueError):
            return shutil.get_terminal_size((120, 24)).columns

    def close(self) -> None:
        if self.tty and self._last_stage:
            self.stream.write("\n")
            self.stream.flush()
