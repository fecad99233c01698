"""Work measured as a count that a loaded machine cannot change: the Python line events executed
inside one module while a call runs. Tests use it for "bounded" and "linear" claims; seconds
belong in ``bench/``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import FrameType
from typing import Any


def line_events(module_file: str, fn: Callable[..., Any], *args: Any) -> int:
    """How many lines of ``module_file`` ran during ``fn(*args)`` (frames of other files ignored)."""
    count = 0

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "line":
            count += 1
        return local

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        return local if frame.f_code.co_filename == module_file else None

    old = sys.gettrace()
    sys.settrace(tracer)
    try:
        fn(*args)
    finally:
        sys.settrace(old)
    return count
