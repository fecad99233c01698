"""The deadline from outside: a small process per run that nothing in the container can reach.

The container enforces its deadline itself too (``timeout -s KILL`` around ``reproduce.sh``), but a
submission can defeat that from inside (stopping ``timeout`` or the container's init), and reprobot
enforcing it means nothing once reprobot is gone (``kill -9``, a crashed worker, a cancelled CI
job). So each run starts ``python -m runner.watchdog STATE`` in its own session: it reads the run's
``run-state.json`` (``runner.run_state``) every second and

- once the deadline has passed, kills the run's containers (reprobot, if alive, then collects);
- once the deadline has passed and the owner is dead, gives back everything the run holds
  (container, proxy, firewall rules, network, filesystem) and exits;
- exits as soon as the state file is gone (the run ended and gave everything back itself).

It imports the Docker SDK only when it has something to kill.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from runner.run_state import RunState, teardown

POLL_S = 1.0


def spawn(state_file: Path) -> int:
    """Start the watchdog of the run whose state is ``state_file``; returns its pid."""
    repo = str(Path(__file__).resolve().parents[1])
    env = {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "PYTHONPATH": os.pathsep.join([repo, *[p for p in sys.path if p]]),
    }
    for key in ("DOCKER_HOST", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY"):
        if key in os.environ:
            env[key] = os.environ[key]
    proc = subprocess.Popen(
        [sys.executable, "-m", "runner.watchdog", str(state_file)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, close_fds=True, env=env, cwd="/",
    )  # fmt: skip
    return proc.pid


def _owner_alive(owner: str) -> bool:
    from runner.janitor import pid_alive

    host, _, pid = owner.rpartition(":")
    return pid.isdigit() and pid_alive(int(pid))


def _engine() -> object | None:
    try:
        from runner.docker_engine import DockerEngine

        return DockerEngine(timeout_s=30)
    except Exception:  # noqa: BLE001 - the engine is down: retry at the next poll
        return None


def watch(state_file: Path, poll_s: float = POLL_S) -> int:
    killed: set[str] = set()
    while True:
        state = RunState.load(state_file)
        if state is None:
            return 0  # the run ended and gave everything back
        overdue = state.deadline is not None and time.time() >= state.deadline
        owner_alive = _owner_alive(state.owner)
        if not owner_alive and (overdue or not state.containers):
            engine = _engine()
            if engine is not None:
                from runner.firewall import IptablesFirewall

                teardown(state, engine, IptablesFirewall())  # type: ignore[arg-type]
                if state.empty:
                    state_file.unlink(missing_ok=True)
                    return 0
        elif overdue:  # reprobot is still there: stop the container, let it collect
            pending = [cid for cid in state.containers if cid not in killed]
            engine = _engine() if pending else None
            for cid in pending if engine is not None else ():
                try:
                    engine.kill_container(cid)  # type: ignore[attr-defined]
                    killed.add(cid)
                except Exception:  # noqa: BLE001 - retried at the next poll
                    continue
        time.sleep(poll_s)


if __name__ == "__main__":  # pragma: no cover - run as a process
    sys.exit(watch(Path(sys.argv[1])))
