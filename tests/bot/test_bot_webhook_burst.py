"""A burst of 200 signed deliveries from 8 concurrent senders against the real ``reprobot serve``
(waitress, SQLite ``synchronous=FULL``) is answered in full, and every delivery is in the queue
afterwards (one delivery row and one job each, integrity ok). The latency (p50/p99) is a figure
that ``bench/webhook_load.py --burst`` prints; a loaded machine cannot make this test fail."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _burst() -> tuple[int, str]:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "webhook_load.py"), "--burst", "--redeliveries", "5"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    return proc.returncode, proc.stdout + proc.stderr


def test_a_burst_is_answered_in_full_with_every_delivery_committed() -> None:
    code, out = _burst()
    assert code == 0 and "consistent" in out and "INCONSISTENT" not in out, out
    assert re.search(r"p99 [0-9.]+", out), out  # every delivery answered: the figure is there
