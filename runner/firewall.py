"""The host's side of a run's network: nothing on this machine is reachable from a run but its proxy.

A run's network is internal (no route out) and its bridge is named ``rb-<id>``; the host is still
reachable at the bridge's gateway address, where every service bound to 0.0.0.0 listens (a
``reprobot serve``, a database). One chain, ``REPROBOT-INPUT``, jumped to from ``INPUT`` for every
``rb-+`` interface, rejects all of that; each run adds one rule before the reject: its own proxy
port on its own gateway, and nothing else. IPv6 from those bridges is dropped outright. The rules
of a run are removed with it; the chain and the jumps stay (they only concern ``rb-`` bridges).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from typing import Protocol

from runner.errors import InfraError

CHAIN = "REPROBOT-INPUT"
BRIDGE_PREFIX = "rb-"
WILDCARD = "rb-+"


class Firewall(Protocol):
    def problem(self) -> str | None:
        """Why this host cannot apply the rules (None: it can)."""
        ...

    def admit(self, bridge: str, gateway: str, port: int) -> None:
        """Let ``bridge``'s clients reach ``gateway:port`` (the proxy) and nothing else on this host."""
        ...

    def revoke(self, bridge: str, gateway: str, port: int) -> None: ...


def _rule(bridge: str, gateway: str, port: int) -> list[str]:
    return ["-i", bridge, "-d", gateway, "-p", "tcp", "--dport", str(port), "-j", "ACCEPT"]


class IptablesFirewall:
    """``Firewall`` with iptables/ip6tables (the tools Docker itself uses on this host)."""

    def __init__(self, iptables: str = "iptables", ip6tables: str = "ip6tables") -> None:
        self.v4 = shutil.which(iptables) or shutil.which(iptables, path="/usr/sbin:/sbin")
        self.v6 = shutil.which(ip6tables) or shutil.which(ip6tables, path="/usr/sbin:/sbin")
        self._base_ready = False

    def problem(self) -> str | None:
        if self.v4 is None:
            return "iptables is not installed"
        if os.geteuid() != 0:
            return "firewall rules need root"
        return None

    def _run(self, binary: str, args: Sequence[str], check: bool = True) -> bool:
        proc = subprocess.run([binary, "-w", "10", *args], capture_output=True, text=True)
        if check and proc.returncode != 0:
            raise InfraError(f"{os.path.basename(binary)} {' '.join(args)}: {proc.stderr.strip()[:200]}")
        return proc.returncode == 0

    def ensure_base(self) -> None:
        if self._base_ready:
            return
        reason = self.problem()
        if reason:
            raise InfraError(f"network policy: {reason}")
        assert self.v4 is not None
        self._run(self.v4, ["-N", CHAIN], check=False)  # exists already: fine
        if not self._run(
            self.v4, ["-C", CHAIN, "-j", "REJECT", "--reject-with", "icmp-admin-prohibited"], False
        ):
            self._run(self.v4, ["-A", CHAIN, "-j", "REJECT", "--reject-with", "icmp-admin-prohibited"])
        if not self._run(self.v4, ["-C", "INPUT", "-i", WILDCARD, "-j", CHAIN], check=False):
            self._run(self.v4, ["-I", "INPUT", "1", "-i", WILDCARD, "-j", CHAIN])
        if self.v6 is not None and not self._run(
            self.v6, ["-C", "INPUT", "-i", WILDCARD, "-j", "DROP"], False
        ):
            self._run(self.v6, ["-I", "INPUT", "1", "-i", WILDCARD, "-j", "DROP"], check=False)
        self._base_ready = True

    def admit(self, bridge: str, gateway: str, port: int) -> None:
        if not bridge.startswith(BRIDGE_PREFIX):
            raise InfraError(f"bridge {bridge!r} is not a reprobot run bridge")
        self.ensure_base()
        assert self.v4 is not None
        self._run(self.v4, ["-I", CHAIN, "1", *_rule(bridge, gateway, port)])

    def revoke(self, bridge: str, gateway: str, port: int) -> None:
        if self.v4 is None:
            return
        while self._run(self.v4, ["-D", CHAIN, *_rule(bridge, gateway, port)], check=False):
            pass  # every copy (a rule added twice is removed twice)

    def rules(self) -> list[str]:
        """The chain as ``iptables -S`` prints it (for doctor and tests)."""
        if self.v4 is None:
            return []
        proc = subprocess.run([self.v4, "-w", "10", "-S", CHAIN], capture_output=True, text=True)
        return proc.stdout.splitlines() if proc.returncode == 0 else []

    def guards_input(self) -> bool:
        """Whether INPUT sends every rb-+ interface through the chain, and the chain ends in a reject."""
        if self.v4 is None:
            return False
        jump = self._run(self.v4, ["-C", "INPUT", "-i", WILDCARD, "-j", CHAIN], check=False)
        return jump and any("-j REJECT" in r for r in self.rules())
