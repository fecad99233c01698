"""The host's side of a run, as one seam: filesystems, firewall, proxy, watchdog, and the container's
protection settings (seccomp profile, masked ``/proc`` entries).

``Sandbox.for_options`` gives the real ones (loop filesystems when a disk limit is set, iptables,
squid, the watchdog process); tests of other concerns pass ``Sandbox.unlimited()`` (plain folders,
no firewall or proxy needed because such runs use ``network: none``, no watchdog).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from runner.egress_proxy import EgressProxy, RunningProxy, SquidProxy
from runner.firewall import Firewall, IptablesFirewall
from runner.runfs import LoopFilesystems, PlainFolders, RunFilesystems
from runner.seccomp import reprobot_profile

# /proc entries that describe the host rather than the container (besides the engine's own list):
# the kernel's boot command line, its modules and symbols, the machine's memory map, I/O ports,
# disks and swap, kernel allocator details. cpuinfo, meminfo and stat stay (software sizes itself
# from them).
HOST_PROC_MASK: tuple[str, ...] = (
    "/proc/cmdline",
    "/proc/kallsyms",
    "/proc/modules",
    "/proc/iomem",
    "/proc/ioports",
    "/proc/partitions",
    "/proc/diskstats",
    "/proc/swaps",
    "/proc/slabinfo",
    "/proc/vmallocinfo",
    "/proc/zoneinfo",
    "/proc/buddyinfo",
    "/proc/pagetypeinfo",
    "/proc/mtrr",
    "/proc/config.gz",
)


class _NoFirewall:
    def problem(self) -> str | None:
        return "no firewall in this sandbox"

    def admit(self, bridge: str, gateway: str, port: int) -> None:  # pragma: no cover - never called
        raise AssertionError("no firewall")

    def revoke(self, bridge: str, gateway: str, port: int) -> None:
        return None


class _NoProxy:
    def problem(self) -> str | None:
        return "no proxy in this sandbox"

    def start(self, plan: object) -> RunningProxy:  # pragma: no cover - never called
        raise AssertionError("no proxy")

    def stop(self, running: RunningProxy) -> None:
        return None


@dataclass(frozen=True)
class Sandbox:
    filesystems: RunFilesystems
    firewall: Firewall
    proxy: EgressProxy
    watchdog: Callable[[Path], int] | None  # starts the run's watchdog process (runner.watchdog.spawn)
    seccomp: Callable[[], str | None]  # the profile text, or None for the engine's default
    masked_paths: tuple[str, ...] = HOST_PROC_MASK

    @classmethod
    def for_options(cls, disk_limit: str | None, seccomp: str) -> Sandbox:
        from runner.watchdog import spawn

        return cls(
            filesystems=LoopFilesystems() if disk_limit else PlainFolders(),
            firewall=IptablesFirewall(),
            proxy=SquidProxy(),
            watchdog=spawn,
            seccomp=reprobot_profile if seccomp == "reprobot" else lambda: None,
        )

    @classmethod
    def unlimited(cls) -> Sandbox:
        return cls(PlainFolders(), _NoFirewall(), _NoProxy(), None, lambda: None)
