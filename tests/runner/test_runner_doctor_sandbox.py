"""``reprobot doctor`` says whether this host can bound a run as the configuration asks.

Invariants: a disk limit the host cannot enforce (not root, no loop devices, not overlay2) is a
FAIL carrying the fix, and so is a network policy without its proxy or firewall; no disk limit and
an unrestricted network are WARNs; a configured runtime the engine does not have is a FAIL; a
``reprobot serve`` listening on a non-loopback address is a WARN, found from the host's own socket
tables (a real listening process, not a claim); on this machine, with the real engine, the disk
limit is proven by a probe.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runner.config import RunnerSettings
from runner.doctor_sandbox import SandboxHost, diagnose_sandbox, serve_listeners
from runner.engine import EngineInfo


class Refuses:
    def __init__(self, reason: str | None) -> None:
        self.reason = reason

    def problem(self) -> str | None:
        return self.reason


def host(
    disk: str | None = None, proxy: str | None = None, listeners: list[tuple[str, int, str]] | None = None
) -> SandboxHost:
    return SandboxHost(
        filesystems=Refuses(disk),  # type: ignore[arg-type]
        firewall=Refuses(None),  # type: ignore[arg-type]
        proxy=Refuses(proxy),  # type: ignore[arg-type]
        environ={},
        listeners=lambda: list(listeners or []),
    )


INFO = EngineInfo("20.10", frozenset({"runc"}), (), 2, storage_driver="overlay2")
QUIET = RunnerSettings(disk_limit=None, network="none")


def diagnose(settings: RunnerSettings, facts: SandboxHost, info: EngineInfo = INFO) -> dict[str, object]:
    return by_name(diagnose_sandbox(settings, object(), info, facts, image_present=False))  # type: ignore[arg-type]


def by_name(checks: tuple[object, ...]) -> dict[str, object]:
    return {c.name: c for c in checks}  # type: ignore[attr-defined]


def test_what_cannot_be_enforced_fails_with_the_fix() -> None:
    checks = diagnose(RunnerSettings(), host(disk="not root", proxy="squid is not installed"))
    disk, net = checks["disk limit"], checks["network"]
    assert disk.level == "FAIL" and "disk_limit: none" in disk.line()  # type: ignore[attr-defined]
    assert net.level == "FAIL" and "apt-get install squid" in net.line()  # type: ignore[attr-defined]
    xfs = EngineInfo("20.10", frozenset({"runc"}), (), 2, storage_driver="devicemapper")
    checks = diagnose(RunnerSettings(), host(), xfs)
    assert checks["disk limit"].level == "FAIL" and "overlay2" in checks["disk limit"].line()  # type: ignore[attr-defined]
    gvisor = diagnose(RunnerSettings(runtime="runsc", disk_limit=None, network="none"), host())
    assert gvisor["runtime"].level == "FAIL" and "runsc" in gvisor["runtime"].line()  # type: ignore[attr-defined]


def test_no_limit_and_an_unrestricted_network_are_warnings() -> None:
    checks = diagnose(RunnerSettings(disk_limit=None, network="bridge"), host())
    assert checks["disk limit"].level == "WARN" and checks["network"].level == "WARN"  # type: ignore[attr-defined]
    assert "serve" not in checks


def test_serve_on_a_non_loopback_address_is_a_warning() -> None:
    exposed = host(listeners=[("0.0.0.0", 8080, "reprobot serve --host 0.0.0.0"), ("127.0.0.1", 8081, "x")])
    checks = diagnose(QUIET, exposed)
    assert checks["serve"].level == "WARN" and "0.0.0.0:8080" in checks["serve"].line()  # type: ignore[attr-defined]
    local = host(listeners=[("127.0.0.1", 8081, "reprobot serve"), ("::1", 8082, "reprobot serve")])
    checks = diagnose(QUIET, local)
    assert "serve" not in checks


def test_serve_listeners_are_read_from_the_hosts_socket_tables(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = (
        "import socket, time; s = socket.socket(); "
        "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
        f"s.bind(('0.0.0.0', {port})); s.listen(); print('up', flush=True); time.sleep(60)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "reprobot", "serve"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "up"
        end = time.monotonic() + 5
        found: list[tuple[str, int, str]] = []
        while not found and time.monotonic() < end:
            found = [f for f in serve_listeners() if f[1] == port]
        assert found and found[0][0] == "0.0.0.0" and "serve" in found[0][2]
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.docker
def test_on_this_host_the_disk_limit_is_proven_by_a_probe(repro_image: str, docker_engine: object) -> None:
    import os

    if os.geteuid() != 0:
        pytest.skip("the disk limit needs root on this host (doctor FAILs it, as tested above)")
    settings = RunnerSettings(image=repro_image, network="none")
    checks = by_name(diagnose_sandbox(settings, docker_engine, docker_engine.info()))  # type: ignore[arg-type,attr-defined]
    assert checks["disk limit"].level == "OK" and "probe" in checks["disk limit"].line()  # type: ignore[attr-defined]
