"""What a test needs from this machine, decided in one place: a Docker engine with the image that
``scripts/setup.sh`` builds (``runner.image.DEFAULT_IMAGE``), and Debian's chromium with its driver.

``tests/conftest.py`` audits skips against these answers: a test marked ``docker`` or ``browser``
that skips on a machine where the answer is yes fails the run (a skipped test proves nothing).
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

from runner.image import DEFAULT_IMAGE

DOCKER_REASON = f"needs a Docker engine with {DEFAULT_IMAGE} (make setup builds it)"
CHROMIUM_REASON = "needs Debian's chromium and chromium-driver (make setup installs them)"
# A skip whose reason starts with this names a host feature beyond Docker and chromium (gVisor, a
# GPU): the audit lists it but does not fail the run for it.
HOST_LACKS = "host lacks "


@functools.cache
def docker_ready() -> bool:
    """The engine answers and the default reproduction image is there."""
    if shutil.which("docker") is None:
        return False
    try:
        done = subprocess.run(
            ["docker", "image", "inspect", DEFAULT_IMAGE], capture_output=True, check=False, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def chromedriver_path() -> str | None:
    found = shutil.which("chromedriver")
    return found or ("/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None)


@functools.cache
def chromium_ready() -> bool:
    return chromium_path() is not None and chromedriver_path() is not None
