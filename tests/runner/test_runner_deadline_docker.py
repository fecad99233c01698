"""The deadline holds from outside the container, whatever runs inside and whatever happens to reprobot.

Invariants: a reproduce.sh that ignores SIGTERM and tries to stop the container's init and the
deadline's ``timeout`` with ptrace is gone within seconds of its deadline after ``kill -9`` of
reprobot (the watchdog kills it, the in-container deadline being set far later on purpose), and
everything the run held on the host (network, proxy, firewall rule, mounted filesystem) is given
back with it; inside, reprobot's seccomp profile refuses ptrace and io_uring and the host's boot
command line is masked; the worker's reaper removes overdue containers while the worker runs, not
only at its start; the GPU workflow ends every job with a cleanup step.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runner.janitor import DEADLINE_LABEL, OWNER_LABEL, RUN_LABEL, Reaper

pytestmark = pytest.mark.docker
ROOT = Path(__file__).resolve().parents[2]

HOSTILE = r"""
trap '' TERM
python3 - <<'PY'
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
for pid in (1, os.getppid()):
    r = libc.ptrace(16, pid, 0, 0)  # PTRACE_ATTACH: stop init, or the timeout(1) above us
    print("ptrace", pid, r, ctypes.get_errno(), flush=True)
print("io_uring_setup", libc.syscall(425, 1, 0), ctypes.get_errno(), flush=True)
PY
echo "cmdline=[$(cat /proc/cmdline)]"
while :; do sleep 1; done
"""


def mine(engine: object, pid: int) -> list[object]:
    owner = f"{socket.gethostname()}:{pid}"
    return [c for c in engine.labelled_containers(RUN_LABEL) if c.labels.get(OWNER_LABEL) == owner]  # type: ignore[attr-defined]


def test_a_ptrace_and_sigterm_ignoring_run_dies_at_its_deadline_after_kill_9(
    tmp_path: Path, repro_image: str, docker_engine: object
) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "reproduce.sh").write_text(HOSTILE)
    config = tmp_path / "c.yaml"
    config.write_text(  # the in-container deadline 10 min away: only the outside one can stop it in time
        f"runner:\n  image: {repro_image}\n  timeout_s: 6\n  deadline_grace_s: 600\n  memory: 256m\n"
        "  salvage: false\n  disk_limit: 512m\n  network: policy\n"
    )
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {**os.environ, "TMPDIR": str(tmpdir)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "--config", str(config), "reproduce", str(sub),
         "--out", str(tmp_path / "out")],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
    )  # fmt: skip
    end = time.monotonic() + 90
    while not any(c.running for c in mine(docker_engine, proc.pid)) and time.monotonic() < end:  # type: ignore[attr-defined]
        time.sleep(0.1)
    started = time.monotonic()
    assert mine(docker_engine, proc.pid), "the container never started"
    time.sleep(2)  # let it try its tricks
    logs = subprocess.run(
        ["docker", "logs", mine(docker_engine, proc.pid)[0].id], capture_output=True, text=True
    )  # type: ignore[attr-defined]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed = time.monotonic()
    assert any(c.running for c in mine(docker_engine, proc.pid)), "it should run until its deadline"  # type: ignore[attr-defined]
    while mine(docker_engine, proc.pid) and time.monotonic() < started + 6 + 5 + 20:
        time.sleep(0.25)
    gone = time.monotonic()
    assert mine(docker_engine, proc.pid) == [], "the run outlived its deadline"
    print(f"deadline: killed reprobot at +{killed - started:.1f} s; "
          f"container gone at +{gone - started:.1f} s "
          f"(timeout 6 s + watchdog margin 5 s)")  # fmt: skip
    assert gone - started < 6 + 5 + 10
    out = logs.stdout
    assert "ptrace 1 -1 1" in out and "io_uring_setup -1 1" in out and "cmdline=[]" in out, out
    # and everything it held on the host is given back by the watchdog, right after the container
    owner = f"{socket.gethostname()}:{proc.pid}"

    def held() -> list[str]:
        nets = subprocess.run(["docker", "network", "ls", "-q", "--filter", f"label={OWNER_LABEL}={owner}"],
                              capture_output=True, text=True).stdout.split()  # fmt: skip
        mounts = [line for line in Path("/proc/self/mounts").read_text().splitlines() if str(tmpdir) in line]
        state = [p for p in tmpdir.rglob("run-state.json")]
        return nets + mounts + [str(p) for p in state]

    end = time.monotonic() + 15
    while held() and time.monotonic() < end:
        time.sleep(0.25)
    assert held() == []


def test_the_reaper_removes_overdue_containers_while_the_worker_runs(
    repro_image: str, docker_engine: object
) -> None:
    from runner.engine import ContainerSpec
    from runner.janitor import owner_label

    reaper = Reaper(repro_image, every_s=0.5).start()
    try:
        time.sleep(1.0)  # the first sweeps have run: what follows is not the start-up sweep
        spec = ContainerSpec(
            image=repro_image, command=("sleep", "600"), workspace=None, user="1000:1000", network="none",
            memory_bytes=64 * 1024**2, pids_limit=16, tmpfs_size=None,
            labels={RUN_LABEL: "reaper-test", OWNER_LABEL: owner_label(),
                    DEADLINE_LABEL: str(int(time.time()) + 2)},
        )  # fmt: skip
        container = docker_engine.create(spec)  # type: ignore[attr-defined]
        container.start()
        before = reaper.sweeps
        end = time.monotonic() + 30
        while docker_engine.labelled_containers(f"{RUN_LABEL}=reaper-test") and time.monotonic() < end:  # type: ignore[attr-defined]
            time.sleep(0.2)
        assert docker_engine.labelled_containers(f"{RUN_LABEL}=reaper-test") == []  # type: ignore[attr-defined]
        assert reaper.sweeps > before
    finally:
        reaper.stop()


def test_the_gpu_workflow_cleans_up_after_every_job() -> None:
    import yaml

    flow = yaml.safe_load((ROOT / ".github" / "workflows" / "reproduce.yml").read_text())
    steps = flow["jobs"]["reproduce"]["steps"]
    cleanup = [s for s in steps if "janitor" in str(s.get("run", ""))]
    assert cleanup and cleanup[-1].get("if") == "always()" and steps.index(cleanup[-1]) == len(steps) - 1
