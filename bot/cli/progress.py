"""A live terminal view of where a grade stands (stage, elapsed time, the log's tail, leaves done)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


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
        now = time.monotonic()
        if stage == self._last_stage and now - self._last_at < self.min_interval_s:
            return
        elapsed = now - self.started
        line = f"[{elapsed:6.1f} s] {stage:<11} {' '.join(detail.split())}"
        if self.tty:
            width = 120
            end = "\n" if stage != self._last_stage and self._last_stage else ""
            self.stream.write(f"{end}\r{line[:width]:<{width}}")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
        self._last_stage, self._last_at = stage, now

    def close(self) -> None:
        if self.tty and self._last_stage:
            self.stream.write("\n")
            self.stream.flush()
