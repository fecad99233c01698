"""What a dead run left behind, found by its labels and names, and removed.

Every run's container and network carry ``org.reprobot.run`` (its id), ``org.reprobot.owner``
(host:pid of the reprobot process) and ``org.reprobot.deadline`` (epoch seconds after which it must
not run). Every temp folder of a run is named ``reprobot-<kind>-<pid>-<random>`` and a run's folder
holds ``run-state.json`` (``runner.run_state``: its proxy, firewall rules, mounted filesystem).
``sweep`` removes containers whose owner is dead or whose deadline has passed, networks of dead
owners, and temp folders whose owner is dead, after giving back what their state records (folders
holding files a container's root made are first given back through a short container of the run
image, see ``runner.profiles``), and firewall rules of bridges that no longer exist. It runs at
every start of ``worker`` and ``grade``, every minute while a worker runs (``Reaper``), and as
``reprobot janitor`` (the GPU workflow's cleanup step after each job). A run's own deadline is
enforced as it passes by its watchdog (``runner.watchdog``).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from runner.engine import ContainerEngine, ContainerSpec
from runner.run_state import STATE_FILE, RunState, teardown

RUN_LABEL = "org.reprobot.run"
OWNER_LABEL = "org.reprobot.owner"
DEADLINE_LABEL = "org.reprobot.deadline"
TEMP_KINDS = ("run", "fetch", "grade")
_TEMP_RE = re.compile(r"^reprobot-(run|fetch|grade)-(\d+)-")


def owner_label() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def temp_dir(kind: str, base: Path | None = None) -> tempfile.TemporaryDirectory[str]:
    """A temp folder whose name says which process owns it (so a dead owner's can be swept)."""
    assert kind in TEMP_KINDS
    # ignore_cleanup_errors: what root left and an interrupt kept from giving back is swept later
    return tempfile.TemporaryDirectory(
        prefix=f"reprobot-{kind}-{os.getpid()}-", dir=base, ignore_cleanup_errors=True
    )


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner_dead(owner: str, alive: Callable[[int], bool]) -> bool:
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another machine's run: only its deadline decides
    return not alive(int(pid))


def give_back(engine: ContainerEngine, image: str, folder: Path) -> None:
    """Make everything under ``folder`` readable and removable by us (it may hold root's files)."""
    spec = ContainerSpec(
        image=image,
        command=("chmod", "-R", "a+rwX,ug-s", "/workspace"),
        workspace=str(folder),
        user="0:0",
        network="none",
        memory_bytes=256 * 1024**2,
        pids_limit=64,
        tmpfs_size=None,
        read_only_root=True,
        cap_add=("DAC_OVERRIDE", "FOWNER"),  # reach and chmod files of any user; nothing else
        scratch_dirs=(),
        labels={
            RUN_LABEL: "cleanup",
            OWNER_LABEL: owner_label(),
            DEADLINE_LABEL: str(int(time.time()) + 600),
        },
        log_max_bytes=2 * 1024**2,
    )
    container = engine.create(spec)
    try:
        container.start()
        container.wait(600)
    finally:
        container.kill()
        container.remove()


def remove_tree(folder: Path, engine: ContainerEngine | None, image: str | None) -> bool:
    """rmtree; when root's files resist, give them back through a container first."""
    shutil.rmtree(folder, ignore_errors=True)
    if not folder.exists():
        return True
    if engine is None or image is None:
        return False
    for sub in [folder] + [p for p in folder.iterdir() if p.is_dir() and not p.is_symlink()]:
        try:
            give_back(engine, image, sub)
        except Exception:  # noqa: BLE001 - best effort; reported by the return value
            continue
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            return True
    return not folder.exists()


@dataclass(frozen=True)
class SweepResult:
    containers_removed: tuple[str, ...]
    folders_removed: tuple[str, ...]
    folders_left: tuple[str, ...]
    networks_removed: tuple[str, ...] = ()


def _give_back_state(folder: Path, engine: ContainerEngine | None) -> None:
    """Teardown of a dead run's recorded resources before its folder is removed."""
    state = RunState.load(folder / STATE_FILE)
    if state is None:
        return
    from runner.firewall import IptablesFirewall

    firewall = IptablesFirewall()
    teardown(state, engine, firewall if firewall.problem() is None else None)


def sweep(
    engine: ContainerEngine | None,
    image: str | None,
    *,
    temp_base: Path | None = None,
    extra_bases: tuple[Path, ...] = (),
    now: float | None = None,
    alive: Callable[[int], bool] = pid_alive,
) -> SweepResult:
    """Remove containers and temp folders of dead runs (see the module docstring)."""
    now = time.time() if now is None else now
    removed: list[str] = []
    if engine is not None:
        for c in engine.labelled_containers(RUN_LABEL):
            deadline = c.labels.get(DEADLINE_LABEL, "")
            overdue = deadline.isdigit() and int(deadline) < now
            dead = _owner_dead(c.labels.get(OWNER_LABEL, ""), alive)
            if overdue or dead:
                engine.remove_container(c.id)
                removed.append(c.id)
    networks: list[str] = []
    if engine is not None:
        for net in engine.labelled_networks(RUN_LABEL):
            if _owner_dead(net.labels.get(OWNER_LABEL, ""), alive):
                try:
                    engine.remove_network(net.name)
                    networks.append(net.name)
                except Exception:  # noqa: BLE001 - still in use: the next sweep
                    continue
    gone: list[str] = []
    left: list[str] = []
    bases = [Path(temp_base or tempfile.gettempdir()), *extra_bases]
    entries: list[Path] = []
    for base in dict.fromkeys(bases):
        try:
            entries += list(base.iterdir())
        except OSError:
            continue
    for entry in entries:
        m = _TEMP_RE.match(entry.name)
        if not m or entry.is_symlink() or not entry.is_dir() or alive(int(m.group(2))):
            continue
        _give_back_state(entry, engine)
        from runner.runfs import unmount_below

        unmount_below(entry)  # never rmtree through a mounted filesystem
        (gone if remove_tree(entry, engine, image) else left).append(str(entry))
    _prune_rules()
    return SweepResult(tuple(removed), tuple(gone), tuple(left), tuple(networks))


def _prune_rules() -> None:
    """Firewall rules of run bridges that no longer exist (a run killed before it gave them back)."""
    from runner.firewall import IptablesFirewall

    firewall = IptablesFirewall()
    if firewall.problem() is not None:
        return
    for line in firewall.rules():
        parts = line.split()
        try:
            bridge = parts[parts.index("-i") + 1]
            gateway = parts[parts.index("-d") + 1].split("/")[0]
            port = int(parts[parts.index("--dport") + 1])
        except (ValueError, IndexError):
            continue
        if not Path("/sys/class/net", bridge).exists():
            firewall.revoke(bridge, gateway, port)


def sweep_at_start(image: str, extra_bases: tuple[Path, ...] = ()) -> SweepResult | None:
    """``sweep`` with the local engine, as ``worker``, ``grade`` and ``reprobot janitor`` do.

    Without a reachable engine only temp folders are swept (containers wait for the next sweep).
    """
    from runner.errors import InfraError

    engine: ContainerEngine | None
    try:
        from runner.docker_engine import DockerEngine

        engine = DockerEngine(timeout_s=30)
    except InfraError:
        engine = None
    try:
        return sweep(engine, image, extra_bases=extra_bases)
    except InfraError:
        return None


class Reaper:
    """``sweep`` every ``every_s`` seconds for as long as a worker runs (not only at its start)."""

    def __init__(self, image: str, every_s: float = 60.0, extra_bases: tuple[Path, ...] = ()) -> None:
        self.image, self.every_s, self.extra_bases = image, every_s, extra_bases
        self.sweeps = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="reprobot-reaper", daemon=True)

    def start(self) -> Reaper:
        self._thread.start()
        return self

    def _run(self) -> None:
        while True:
            try:
                sweep_at_start(self.image, self.extra_bases)
            except Exception:  # noqa: BLE001 - the next round tries again
                pass
            self.sweeps += 1
            if self._stop.wait(self.every_s):
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
