"""``reprobot doctor``, the sandbox's half: can this host bound a run as the configuration asks?

- ``disk limit``: FAIL when ``runner.disk_limit`` is set and this host cannot enforce it (not root,
  no loop devices, a storage driver other than overlay2), else a probe proves it: a 64 MiB run
  filesystem, a container writing 100 MiB into its root, ENOSPC at the limit;
- ``network``: ``policy`` needs squid and the firewall (FAIL without); ``bridge`` is a WARN
  (unrestricted, not audited); the allow-list's size and where its hosts come from;
- ``ca bundle`` / ``upstream proxy``: what runs will trust, and the parent proxy, if any;
- ``runtime``: the configured OCI runtime is registered and starts a container (gVisor: ``runsc``);
- ``serve``: a ``reprobot serve`` listening on a non-loopback address is a WARN.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from runner.cabundle import certificates, find_bundle
from runner.config import RunnerSettings, parse_size
from runner.doctor import Check
from runner.egress_proxy import EgressProxy, SquidProxy, upstream_from
from runner.engine import ContainerEngine, ContainerSpec, EngineInfo
from runner.errors import InfraError
from runner.firewall import Firewall, IptablesFirewall
from runner.runfs import LoopFilesystems, RunFilesystems

PROBE_LIMIT = 64 * 1024**2


def serve_listeners() -> list[tuple[str, int, str]]:
    """(address, port, command line) of every listening TCP socket of a ``reprobot serve`` process."""
    sockets: dict[str, tuple[str, int]] = {}
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if len(f) < 10 or f[3] != "0A":
                continue
            hexaddr, hexport = f[1].split(":")
            sockets[f[9]] = (_address(hexaddr, v6), int(hexport, 16))
    found: list[tuple[str, int, str]] = []
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if " serve" not in cmd or ("reprobot" not in cmd and "bot.cli" not in cmd):
                continue
            for fd in os.listdir(f"/proc/{pid}/fd"):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                inode = link[8:-1] if link.startswith("socket:[") else ""
                if inode in sockets:
                    found.append((*sockets[inode], cmd.strip()[:400]))
        except OSError:
            continue
    return found


def _address(hexaddr: str, v6: bool) -> str:
    import ipaddress

    raw = bytes.fromhex(hexaddr)
    if not v6:
        return str(ipaddress.IPv4Address(raw[::-1]))
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return str(ipaddress.IPv6Address(words))


def _loopback(address: str) -> bool:
    import ipaddress

    ip = ipaddress.ip_address(address)
    return ip.is_loopback or (
        isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None and ip.ipv4_mapped.is_loopback
    )


@dataclass(frozen=True)
class SandboxHost:
    filesystems: RunFilesystems = field(default_factory=LoopFilesystems)
    firewall: Firewall = field(default_factory=IptablesFirewall)
    proxy: EgressProxy = field(default_factory=SquidProxy)
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    listeners: Callable[[], list[tuple[str, int, str]]] = serve_listeners


def _run(engine: ContainerEngine, spec: ContainerSpec, timeout_s: float = 60) -> int | None:
    container = engine.create(spec)
    try:
        container.start()
        container.wait(timeout_s)
        return container.exit_state().exit_code
    finally:
        container.kill()
        container.remove()


def probe_disk_limit(engine: ContainerEngine, image: str, filesystems: RunFilesystems) -> str | None:
    """None when a container's writes stop at a 64 MiB limit, else what went wrong."""
    with tempfile.TemporaryDirectory(prefix="reprobot-doctor-") as tmp:
        fs = filesystems.create(Path(tmp) / "fs", PROBE_LIMIT, 4096)
        try:
            (fs.root / "ws").mkdir()
            spec = ContainerSpec(
                image=image,
                command=("sh", "-c", "dd if=/dev/zero of=/fill bs=1M count=100 2>&1 | tail -1"),
                workspace=str(fs.root / "ws"),
                workdir="/submission",
                user="0:0",
                network="none",
                memory_bytes=256 * 1024**2,
                pids_limit=64,
                tmpfs_size=None,
                read_only_root=False,
                cap_add=("DAC_OVERRIDE",),
                scratch_dirs=(),
                layer_dir=str(fs.root / "layer"),
                labels={"org.reprobot.run": "doctor"},
            )
            _run(engine, spec)
            usage = fs.usage()
            if usage is None or not usage.full:
                return "a container wrote past the limit (its writes did not land on the run's filesystem)"
            return None
        finally:
            filesystems.release(fs)


def diagnose_sandbox(
    settings: RunnerSettings, engine: ContainerEngine, info: EngineInfo, host: SandboxHost | None = None,
    *, image_present: bool = True,
) -> tuple[Check, ...]:  # fmt: skip
    host = host or SandboxHost()
    checks: list[Check] = []
    if settings.disk_limit is None:
        checks.append(
            Check(
                "disk limit",
                "WARN",
                "none: a run can fill this host's disk and inodes",
                "set runner.disk_limit (e.g. 50g)",
            )
        )
    else:
        reason = host.filesystems.problem()
        if reason is None and info.storage_driver and info.storage_driver != "overlay2":
            reason = f"the engine's storage driver is {info.storage_driver}, not overlay2"
        if reason is None and image_present:
            try:
                reason = probe_disk_limit(engine, settings.image, host.filesystems)
            except InfraError as exc:
                reason = str(exc)
        size = parse_size(settings.disk_limit)
        if reason:
            checks.append(
                Check(
                    "disk limit",
                    "FAIL",
                    f"runner.disk_limit {settings.disk_limit} cannot be enforced: {reason}",
                    "run reprobot as root on an overlay2 engine, or set runner.disk_limit: none",
                )
            )
        else:
            checks.append(
                Check(
                    "disk limit",
                    "OK",
                    f"{size / 1024**3:.0f} GiB and {settings.disk_inodes} files per run "
                    "(writable layer + workspace; probe: writes stop at the limit)",
                )
            )
    checks.append(_network(settings, host))
    checks += _trust(settings, host)
    checks.append(_runtime(settings, engine, info, image_present))
    exposed = [(a, p, c) for a, p, c in host.listeners() if not _loopback(a)]
    if exposed:
        a, p, c = exposed[0]
        checks.append(
            Check(
                "serve",
                "WARN",
                f"`{c[:100]}` listens on {a}:{p}, not only on loopback",
                "bind it to 127.0.0.1 behind a TLS proxy; runs on network: bridge could reach it",
            )
        )
    return tuple(checks)


def _network(settings: RunnerSettings, host: SandboxHost) -> Check:
    mode = settings.network
    if mode == "none":
        return Check("network", "OK", "none: runs have no network at all")
    if mode == "bridge":
        return Check(
            "network",
            "WARN",
            "bridge: runs reach whatever this host reaches (its services and private "
            "addresses included), unaudited",
            "set runner.network: policy",
        )
    if mode != "policy":
        return Check(
            "network", "WARN", f"the named network {mode!r}: its own rules apply, egress not audited"
        )
    reason = host.proxy.problem() or host.firewall.problem()
    if reason:
        return Check(
            "network",
            "FAIL",
            f"policy cannot be applied here: {reason}",
            "apt-get install squid iptables and run reprobot as root, or set runner.network: none",
        )
    from runner.allowlist import default_hosts

    hosts = default_hosts(host.environ) if settings.egress_defaults else ()
    allow = [*hosts, *settings.egress_allow]
    shown = ", ".join(allow[:6]) + (f" and {len(allow) - 6} more" if len(allow) > 6 else "")
    return Check(
        "network",
        "OK",
        f"policy: a network per run, egress only through squid to {len(allow)} "
        f"allowed host(s) ({shown}), audited",
    )


def _trust(settings: RunnerSettings, host: SandboxHost) -> list[Check]:
    checks = []
    try:
        bundle = find_bundle(settings.ca_bundle, host.environ)
    except InfraError as exc:
        checks.append(Check("ca bundle", "FAIL", str(exc), "name a PEM file in runner.ca_bundle, or auto"))
        bundle = None
    else:
        if bundle is None:
            checks.append(
                Check(
                    "ca bundle",
                    "OK" if settings.ca_bundle == "none" else "WARN",
                    "runs trust only their image's CA store",
                    "set runner.ca_bundle to a PEM file",
                )
            )
        else:
            n = len(certificates(bundle.read_bytes()))
            checks.append(Check("ca bundle", "OK", f"runs also trust {bundle} ({n} certificates)"))
    try:
        upstream = upstream_from(settings.upstream_proxy, host.environ)
        if upstream:
            checks.append(Check("upstream proxy", "OK", f"the egress proxy forwards through {upstream}"))
    except InfraError as exc:
        checks.append(
            Check("upstream proxy", "FAIL", str(exc), "runner.upstream_proxy: http://HOST:PORT, auto or none")
        )
    return checks


def _runtime(
    settings: RunnerSettings, engine: ContainerEngine, info: EngineInfo, image_present: bool
) -> Check:
    wanted = settings.runtime
    if wanted is None:
        extra = " (gVisor is registered: runner.runtime: runsc)" if "runsc" in info.runtimes else ""
        return Check("runtime", "OK", f"the engine's default (runc){extra}")
    if wanted not in info.runtimes:
        return Check(
            "runtime",
            "FAIL",
            f"runner.runtime {wanted} is not registered with the engine",
            'apt-get install runsc and add it to "runtimes" in /etc/docker/daemon.json (scripts/setup.sh)',
        )
    if not image_present:
        return Check("runtime", "WARN", f"{wanted} is registered; not probed (no image)")
    spec = ContainerSpec(
        image=settings.image,
        command=("true",),
        workspace=None,
        user="0:0",
        network="none",
        memory_bytes=256 * 1024**2,
        pids_limit=64,
        tmpfs_size=None,
        runtime=wanted,
        labels={"org.reprobot.run": "doctor"},
    )
    try:
        code = _run(engine, spec)
    except InfraError as exc:
        return Check("runtime", "FAIL", f"{wanted} cannot start a container: {exc}", "see its logs")
    if code != 0:
        return Check("runtime", "FAIL", f"{wanted} could not run `true` (exit {code})", "see its logs")
    return Check("runtime", "OK", f"{wanted} starts containers")
