"""The allow-listing egress proxy of a run: Debian's squid, run and configured by reprobot.

One squid per run listens on the host side of the run's own network (its gateway address, a free
port) and accepts only that network's clients. It lets through plain HTTP (port 80) and CONNECT to
port 443 for the hosts of the allow-list and nothing else: every other host, every other port,
and every private, loopback or link-local destination (the host's services, the cloud metadata
address, other networks) are refused; it caches nothing and adds no headers. Without an upstream
proxy it resolves names itself and refuses those that resolve to such addresses; with one
(``runner.upstream_proxy``, or ``https_proxy`` of reprobot's environment) it forwards everything
there. Every request is one line of its access log (``LOG_FORMAT``): time, client, result/status,
bytes in and out, method, URL, server address. ``LogFollower`` reads that log while the run goes
on and keeps it small on disk (squid reopens its log on SIGUSR1), so no amount of requests fills
the host's disk.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from runner.allowlist import normalise_entry
from runner.egress_audit import EgressTally
from runner.errors import InfraError

LOG_FORMAT = "%ts.%03tu %>a %Ss/%03>Hs %<st %>st %rm %ru %<a"
PRIVATE_RANGES = (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4",
    "::1/128", "fc00::/7", "fe80::/10", "ff00::/8",
)  # fmt: skip
ROTATE_AT_BYTES = 4 * 1024**2
EGRESS_BASE = Path("/run/reprobot-egress")  # squid's per-run folders: its user must reach them


def egress_folder(name: str) -> Path:
    """A fresh folder for one run's proxy, where the proxy's unprivileged user can reach it (reprobot's
    own temp folders are private, 0700, and may sit under other private folders)."""
    base = EGRESS_BASE if EGRESS_BASE.parent.is_dir() else Path("/var/tmp/reprobot-egress")
    base.mkdir(mode=0o711, parents=True, exist_ok=True)
    os.chmod(base, 0o711)  # traversable, not listable
    folder = base / name
    folder.mkdir(mode=0o755)
    return folder


@dataclass(frozen=True)
class ProxyPlan:
    listen: str  # the run network's gateway address (host side)
    port: int
    clients: str  # the run network's subnet: nobody else may use this proxy
    allow: tuple[str, ...]  # dstdomain entries (runner.allowlist)
    upstream: str | None  # http://host:port of a parent proxy, or None
    folder: Path  # squid.conf and its logs

    @property
    def address(self) -> str:
        return f"http://{self.listen}:{self.port}"

    @property
    def access_log(self) -> Path:
        return self.folder / "logs" / "access.log"


def upstream_from(setting: str, environ: Mapping[str, str]) -> str | None:
    """``runner.upstream_proxy``: auto (this process's https_proxy/http_proxy), none, or a URL."""
    value = setting.strip()
    if value.lower() == "none":
        return None
    if value.lower() == "auto":
        value = next(
            (
                environ[k]
                for k in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY")
                if environ.get(k)
            ),
            "",
        )
        if not value:
            return None
    parts = urlsplit(value if "://" in value else f"http://{value}")
    if parts.scheme != "http" or not parts.hostname or not parts.port:
        raise InfraError(f"upstream proxy {value!r}: expected http://HOST:PORT")
    return f"http://{normalise_entry(parts.hostname)}:{parts.port}"


def squid_config(plan: ProxyPlan) -> str:
    logs = plan.folder / "logs"
    allow = " ".join(plan.allow) if plan.allow else "reprobot.invalid"  # an empty list allows nothing
    lines = [
        "# written by reprobot for one run; see runner/egress_proxy.py",
        f"http_port {plan.listen}:{plan.port}",
        "pid_filename none",
        "pinger_enable off",
        "cache deny all",
        "cache_mem 0 MB",
        "memory_pools off",
        "via off",
        "forwarded_for delete",
        "httpd_suppress_version_string on",
        "visible_hostname reprobot-egress",
        "shutdown_lifetime 0 seconds",
        "client_lifetime 1 day",
        f"logformat reprobot {LOG_FORMAT}",
        f"access_log stdio:{logs / 'access.log'} reprobot",
        f"cache_log {logs / 'cache.log'}",
        f"coredump_dir {logs}",
        f"acl run_clients src {plan.clients}",
        f"acl allowed dstdomain -n {allow}",  # -n: names only, no DNS lookup to decide a refusal
        "acl SSL_ports port 443",
        "acl Safe_ports port 80 443",
        "acl CONNECT method CONNECT",
        "http_access deny !run_clients",
        "http_access deny !Safe_ports",
        "http_access deny CONNECT !SSL_ports",
        "http_access deny !allowed",  # refused before any lookup: a refused name never leaves this host
    ]
    if plan.upstream is None:
        lines += [f"acl private_dst dst {' '.join(PRIVATE_RANGES)}", "http_access deny private_dst"]
    else:
        up = urlsplit(plan.upstream)
        lines += [
            f"cache_peer {up.hostname} parent {up.port} 0 no-query no-digest default name=upstream",
            "never_direct allow all",
        ]
    lines += ["http_access allow allowed", "http_access deny all", ""]
    return "\n".join(lines)


@dataclass(frozen=True)
class RunningProxy:
    pid: int
    plan: ProxyPlan


class EgressProxy(Protocol):
    def problem(self) -> str | None:
        """Why this host cannot run the proxy (None: it can)."""
        ...

    def start(self, plan: ProxyPlan) -> RunningProxy: ...

    def stop(self, running: RunningProxy) -> None: ...


def _sockets(ip: str, port: int, states: frozenset[str]) -> int:
    """TCP sockets with local address ip:port in ``states`` (from /proc/net/tcp, so reprobot's own
    checks make no connection and leave nothing in the proxy's log)."""
    want = f"{''.join(reversed([f'{int(o):02X}' for o in ip.split('.')]))}:{port:04X}"
    try:
        with open("/proc/net/tcp") as fh:
            rows = [line.split() for line in fh.readlines()[1:]]
    except OSError:
        return 0
    return sum(1 for f in rows if len(f) > 3 and f[1] == want and f[3] in states)


def _listening(ip: str, port: int) -> bool:
    return _sockets(ip, port, frozenset({"0A"})) > 0


def _clients(ip: str, port: int) -> int:
    """Client connections squid has not finished with (established, or closed by the client only)."""
    return _sockets(ip, port, frozenset({"01", "08"}))


class SquidProxy:
    """``EgressProxy`` with Debian's squid (``apt-get install squid``), one process per run."""

    def __init__(self, binary: str = "squid", user: str = "proxy", ready_s: float = 10.0) -> None:
        self.binary = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/sbin") or binary
        self.user = user
        self.ready_s = ready_s
        self._procs: dict[int, subprocess.Popen[bytes]] = {}

    def problem(self) -> str | None:
        if not os.path.isfile(self.binary):
            return "squid is not installed (apt-get install squid)"
        if os.geteuid() != 0:
            return "the egress proxy and its firewall rules need root"
        return None

    def start(self, plan: ProxyPlan) -> RunningProxy:
        reason = self.problem()
        if reason:
            raise InfraError(f"network policy: {reason}")
        logs = plan.folder / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        try:
            entry = pwd.getpwnam(self.user)
            os.chown(logs, entry.pw_uid, entry.pw_gid)
        except KeyError:
            pass  # squid falls back to nobody; the folder is then made writable below
        os.chmod(logs, 0o755 if os.stat(logs).st_uid != 0 else 0o777)
        conf = plan.folder / "squid.conf"
        conf.write_text(squid_config(plan), encoding="utf-8")
        proc = subprocess.Popen(
            [self.binary, "-N", "-f", str(conf)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, close_fds=True,
        )  # fmt: skip
        self._procs[proc.pid] = proc
        running = RunningProxy(proc.pid, plan)
        deadline = time.monotonic() + self.ready_s
        while not _listening(plan.listen, plan.port):
            if proc.poll() is not None or time.monotonic() > deadline:
                self.stop(running)
                raise InfraError(f"the egress proxy (squid) did not start: {_tail(logs / 'cache.log')}")
            time.sleep(0.01)
        return running

    def stop(self, running: RunningProxy) -> None:
        """Stop at once when no client transaction is open any more (squid writes each request's log
        line as it ends, unbuffered); squid's own graceful shutdown ticks for over a second."""
        proc = self._procs.pop(running.pid, None)
        if proc is None:
            stop_pid(running.pid, str(running.plan.folder / "squid.conf"))
            return
        end = time.monotonic() + 3.0
        while _clients(running.plan.listen, running.plan.port) and time.monotonic() < end:
            time.sleep(0.02)
        time.sleep(0.05)  # the last line of a transaction that just ended
        proc.kill()
        proc.wait(timeout=10)


def stop_pid(pid: int, marker: str) -> bool:
    """Stop a proxy another process started (janitor, watchdog): only if its command line names ``marker``."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    if marker not in cmdline:
        return False  # the pid was reused by something else
    for sig, wait_s in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return True
        end = time.monotonic() + wait_s
        while time.monotonic() < end:
            if not Path(f"/proc/{pid}").exists() or _zombie(pid):
                return True
            time.sleep(0.05)
    return False


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return True


def _tail(path: Path, n: int = 3) -> str:
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no log"
    important = [line for line in lines if "FATAL" in line or "ERROR" in line] or lines
    return " | ".join(line.strip()[:200] for line in important[-n:])


class LogFollower(threading.Thread):
    """Folds the proxy's access log into an ``EgressTally`` as it grows; rotates it past a size."""

    def __init__(
        self, running: RunningProxy, tally: EgressTally, every_s: float = 2.0,
        reopen: Callable[[int], None] | None = None,
    ) -> None:  # fmt: skip
        super().__init__(name="reprobot-egress-log", daemon=True)
        self.path = running.plan.access_log
        self.pid = running.pid
        self.tally = tally
        self.every_s = every_s
        self._reopen = reopen or (lambda pid: os.kill(pid, signal.SIGUSR1))
        self._halt = threading.Event()
        self._offset = 0
        self._partial = b""
        self._lock = threading.Lock()

    def run(self) -> None:
        while not self._halt.wait(self.every_s):
            self.drain()

    def drain(self, final: bool = False) -> None:
        with self._lock:
            self._read(self.path)
            if not final and self._offset > ROTATE_AT_BYTES:
                rotated = self.path.with_name("access.log.0")
                try:
                    os.replace(self.path, rotated)
                    self._reopen(self.pid)  # squid closes the renamed file and opens a fresh one
                except OSError:
                    return
                time.sleep(0.05)
                self._read(rotated)  # what squid wrote before it reopened
                rotated.unlink(missing_ok=True)
                self._offset = 0

    def _read(self, path: Path) -> None:
        try:
            with open(path, "rb") as fh:
                fh.seek(self._offset)
                data = fh.read(64 * 1024**2)
                self._offset += len(data)
        except OSError:
            return
        data = self._partial + data
        lines = data.split(b"\n")
        self._partial = lines.pop()
        self.tally.feed(line.decode("utf-8", errors="replace") for line in lines)

    def finish(self) -> None:
        self._halt.set()
        if self.is_alive():
            self.join(timeout=10)
        self.drain(final=True)
        if self._partial:
            self.tally.feed([self._partial.decode("utf-8", errors="replace")])
            self._partial = b""
