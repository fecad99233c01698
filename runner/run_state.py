"""What a run holds on this host, written down as it takes it, so that anyone can give it all back.

A run takes a container, a network, a proxy process, firewall rules and a mounted filesystem. Each
is recorded in ``run-state.json`` in the run's temp folder the moment it exists, with the run's
owner (host:pid) and its deadline. ``teardown`` gives back everything recorded, in order, whoever
calls it: the run itself when it ends, the watchdog (``runner.watchdog``) when the deadline passes
and the owner is gone, the janitor (``runner.janitor``) for a dead owner's folder. Every step is
safe to repeat.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.engine import ContainerEngine
from runner.firewall import Firewall

STATE_FILE = "run-state.json"


@dataclass
class RunState:
    owner: str  # host:pid of the reprobot process running it
    deadline: float | None = None  # epoch s: past it no container of this run may run
    containers: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    proxies: list[tuple[int, str]] = field(default_factory=list)  # (pid, its config path: proves it is ours)
    rules: list[tuple[str, str, int]] = field(default_factory=list)  # (bridge, gateway, port)
    mounts: list[tuple[str, str]] = field(default_factory=list)  # (mount point, image file)
    path: Path | None = field(default=None, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    def save(self) -> None:
        if self.path is None:
            return
        data = {
            "owner": self.owner, "deadline": self.deadline, "containers": self.containers,
            "networks": self.networks, "proxies": self.proxies, "rules": self.rules, "mounts": self.mounts,
        }  # fmt: skip
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, self.path)

    def note(self, key: str, value: Any) -> None:
        """Record a resource (``containers``, ``networks``, ``proxies``, ``rules``, ``mounts``) and save."""
        with self._lock:
            getattr(self, key).append(tuple(value) if isinstance(value, list) else value)
            self.save()

    def forget(self, key: str, value: Any) -> None:
        with self._lock:
            items = getattr(self, key)
            if value in items:
                items.remove(value)
            self.save()

    def set_deadline(self, deadline: float | None) -> None:
        with self._lock:
            self.deadline = deadline
            self.save()

    @classmethod
    def load(cls, path: Path) -> RunState | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("owner"), str):
            return None
        return cls(
            owner=data["owner"],
            deadline=float(data["deadline"]) if isinstance(data.get("deadline"), int | float) else None,
            containers=[str(c) for c in data.get("containers") or []],
            networks=[str(n) for n in data.get("networks") or []],
            proxies=[(int(p), str(m)) for p, m in data.get("proxies") or []],
            rules=[(str(b), str(g), int(p)) for b, g, p in data.get("rules") or []],
            mounts=[(str(m), str(i)) for m, i in data.get("mounts") or []],
            path=path,
        )

    @property
    def empty(self) -> bool:
        return not (self.containers or self.networks or self.proxies or self.rules or self.mounts)


def teardown(state: RunState, engine: ContainerEngine | None, firewall: Firewall | None) -> list[str]:
    """Give back everything ``state`` records: containers, proxies, rules, networks, filesystems.

    Returns what could not be given back (one line each); what was given back is forgotten.
    """
    from runner.egress_proxy import stop_pid
    from runner.runfs import unmount_below

    problems: list[str] = []
    for cid in list(state.containers):
        try:
            if engine is not None:
                engine.remove_container(cid)
                state.forget("containers", cid)
        except Exception as exc:  # noqa: BLE001 - reported, the rest still given back
            problems.append(f"container {cid[:12]}: {exc}")
    for pid, marker in list(state.proxies):
        stop_pid(pid, marker)
        shutil.rmtree(Path(marker).parent, ignore_errors=True)  # the proxy's folder (config and logs)
        state.forget("proxies", (pid, marker))
    for rule in list(state.rules):
        if firewall is not None:
            firewall.revoke(*rule)
            state.forget("rules", rule)
    for name in list(state.networks):
        try:
            if engine is not None:
                engine.remove_network(name)
                state.forget("networks", name)
        except Exception as exc:  # noqa: BLE001
            problems.append(f"network {name}: {exc}")
    for point, image in list(state.mounts):
        unmount_below(Path(point), include_self=True)
        Path(image).unlink(missing_ok=True)
        state.forget("mounts", (point, image))
    return problems
