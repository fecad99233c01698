"""A burst of 200 signed deliveries from 8 concurrent senders against the real ``reprobot serve``
(waitress, SQLite ``synchronous=FULL``) is acknowledged with a p99 under 100 ms, and every delivery
is in the queue afterwards (one delivery row and one job each, integrity ok). Measured by
``bench/webhook_load.py --burst``; on a shared machine one noisy run is allowed a second try."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _burst() -> tuple[int, float, str]:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "webhook_load.py"), "--burst", "--redeliveries", "5"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    m = re.search(r"p99 ([0-9.]+)", proc.stdout)
    return proc.returncode, float(m.group(1)) if m else float("inf"), proc.stdout + proc.stderr


def test_burst_p99_under_100_ms_with_every_delivery_committed() -> None:
    code, p99, out = _burst()
    if p99 >= 100:
        code, p99, out = _burst()
    assert code == 0 and "consistent" in out and "INCONSISTENT" not in out, out
    assert p99 < 100, out
