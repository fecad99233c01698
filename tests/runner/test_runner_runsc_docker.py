"""gVisor where the host has it: ``runner.runtime: runsc`` runs the paperbench profile in gVisor's
sandbox kernel, with the same bounds (disk limit, network policy, CA bundle) as runc.

Runs where ``runsc`` is registered with the engine and starts a container; skips, saying why, where
it is not (Debian ships it as the ``runsc`` package; ``scripts/setup.sh`` registers it).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.engine import ContainerSpec
from runner.reproduce import ReproduceOptions, reproduce

pytestmark = pytest.mark.docker


def runsc_problem(engine: object, image: str) -> str | None:
    if "runsc" not in engine.info().runtimes:  # type: ignore[attr-defined]
        return (
            "runsc is not registered with this engine (apt-get install runsc; scripts/setup.sh registers it)"
        )
    spec = ContainerSpec(
        image=image, command=("true",), workspace=None, user="0:0", network="none",
        memory_bytes=256 * 1024**2, pids_limit=512, tmpfs_size=None, runtime="runsc",
    )  # fmt: skip
    container = engine.create(spec)  # type: ignore[attr-defined]
    try:
        container.start()
        container.wait(60)
        code = container.exit_state().exit_code
    finally:
        container.remove()
    return None if code == 0 else f"runsc could not start a container here (exit {code})"


def test_the_paperbench_profile_runs_on_gvisor_with_the_same_bounds(
    tmp_path: Path, repro_image: str, docker_engine: object
) -> None:
    problem = runsc_problem(docker_engine, repro_image)
    if problem:
        pytest.skip(problem)
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "reproduce.sh").write_text(
        'echo "kernel $(uname -r) uid $(id -u)"\n'
        "dmesg 2>/dev/null | head -1 || true\n"
        "df -B1 --output=size / | tail -1 | tr -d ' ' > df.txt\n"
        "curl -sS -m 10 -o /dev/null https://blocked.example/ || echo refused\n"
        "echo done > result.txt\n"
    )
    options = ReproduceOptions(
        image=repro_image, timeout_s=120, memory="512m", salvage=False, runtime="runsc", network="policy",
        disk_limit="1g",
    )  # fmt: skip
    meta = reproduce(sub, tmp_path / "out", options, engine=docker_engine)  # type: ignore[arg-type]
    log = (tmp_path / "out" / "reproduce.log").read_text()
    assert meta.exit_code == 0 and meta.runtime == "runsc" and meta.limits["runtime"] == "runsc", log
    assert "uid 0" in log and "gVisor" in log or "4.4.0" in log, log  # gVisor's own kernel answers
    assert (tmp_path / "out" / "submission" / "result.txt").read_text() == "done\n"
    assert int((tmp_path / "out" / "submission" / "df.txt").read_text()) <= 1024**3  # the limit, not the host
    assert meta.egress is not None and [h.host for h in meta.egress.refused] == ["blocked.example"]
