"""A run's network, by policy: its own network, no route out but the allow-listing proxy, audited.

``network: policy`` (the default), per attempt:

1. a Docker network of its own, internal (no route out, Docker's isolation rules keep it from every
   other network) with traffic between its containers off; its bridge is ``rb-<id>``;
2. the firewall (``runner.firewall``) lets that bridge reach the host only at the proxy's port;
3. the proxy (``runner.egress_proxy``) listens on the bridge's gateway for that network's clients,
   with the run's allow-list (``runner.allowlist``), and the container gets ``http_proxy`` and
   ``https_proxy`` naming it (pip, apt, git, curl, wget, requests and the Hugging Face Hub use them);
4. when the container has run, the proxy's log becomes the egress audit (``runner.egress_audit``)
   and everything is given back.

``none`` (no network at all), ``bridge`` (Docker's default bridge: unrestricted, not audited) and a
named Docker network are explicit choices; their audit says only which it was.
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from runner.egress_audit import EgressAudit, EgressTally
from runner.egress_proxy import EgressProxy, LogFollower, ProxyPlan, RunningProxy, egress_folder
from runner.engine import ContainerEngine, NetworkInfo, NetworkSpec
from runner.firewall import Firewall
from runner.run_state import RunState

POLICY = "policy"
NO_PROXY = "localhost,127.0.0.1,::1"


def proxy_environment(address: str) -> dict[str, str]:
    env = {}
    for key in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        env[key] = address
    env["no_proxy"] = env["NO_PROXY"] = NO_PROXY
    return env


def free_port(address: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


@dataclass
class AttemptNetwork:
    """The network of one attempt: ``open`` before the container exists, ``start_proxy`` once the
    allow-list is known, ``close`` when the container has run (safe to call twice)."""

    engine: ContainerEngine
    firewall: Firewall
    proxy: EgressProxy
    state: RunState
    mode: str
    labels: Mapping[str, str] = field(default_factory=dict)
    info: NetworkInfo | None = None
    running: RunningProxy | None = None
    follower: LogFollower | None = None
    tally: EgressTally | None = None
    allow: tuple[str, ...] = ()
    bridge: str = ""
    port: int = 0
    folder: Path | None = None  # the proxy's configuration and logs (removed with it)
    _rule: tuple[str, str, int] | None = None

    @property
    def policy(self) -> bool:
        return self.mode == POLICY

    def open(self, run_id: str, attempt: int) -> str:
        """The network the container joins (created here for ``policy``)."""
        if not self.policy:
            return self.mode
        for reason in (self.proxy.problem(), self.firewall.problem()):
            if reason:
                from runner.errors import InfraError

                raise InfraError(
                    f"network policy: {reason} (or choose runner.network: none, or bridge for no policy)"
                )
        name = f"reprobot-{run_id[:12]}-{attempt}"
        self.bridge = f"rb-{run_id[:10]}{attempt % 256:02x}"
        self.state.note("networks", name)
        self.info = self.engine.create_network(NetworkSpec(name, self.bridge, labels=dict(self.labels)))
        self.port = free_port(self.info.gateway)
        return name

    def environment(self) -> dict[str, str]:
        """The container's proxy variables (known before the proxy starts: address and port are fixed)."""
        if self.info is None:
            return {}
        return proxy_environment(f"http://{self.info.gateway}:{self.port}")

    def start_proxy(self, allow: tuple[str, ...], upstream: str | None) -> None:
        """Start the proxy with ``allow`` on the address ``environment`` named."""
        if not self.policy:
            return
        assert self.info is not None
        self.allow = allow
        port = self.port
        folder = self.folder = egress_folder(self.info.name)
        plan = ProxyPlan(self.info.gateway, port, self.info.subnet, allow, upstream, folder)
        self.running = self.proxy.start(plan)
        self.state.note("proxies", (self.running.pid, str(folder / "squid.conf")))
        self._rule = (self.bridge, self.info.gateway, port)
        self.state.note("rules", self._rule)
        self.firewall.admit(*self._rule)
        self.tally = EgressTally(ignore_client=self.info.gateway)
        self.follower = LogFollower(self.running, self.tally)
        self.follower.start()

    def close(self) -> EgressAudit:
        audit = EgressAudit(mode=self.mode)
        if self.follower is not None:
            self.follower.finish()  # what squid logged until now
        if self.running is not None:
            self.proxy.stop(self.running)
            if self.follower is not None:
                self.follower.drain(final=True)  # what it logged while stopping
            self.state.forget("proxies", (self.running.pid, str(self.running.plan.folder / "squid.conf")))
            self.running = None
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
        if self.tally is not None:
            audit = self.tally.audit(self.mode, self.allow)
        if self._rule is not None:
            self.firewall.revoke(*self._rule)
            self.state.forget("rules", self._rule)
            self._rule = None
        if self.info is not None:
            self.engine.remove_network(self.info.name)
            self.state.forget("networks", self.info.name)
            self.info = None
        return audit
