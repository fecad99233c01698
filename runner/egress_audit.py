"""The egress audit of a run: every destination the proxy was asked for, its bytes, and refusals.

The proxy writes one line per request (``runner.egress_proxy.LOG_FORMAT``); ``EgressTally`` folds
them into per-host counts as they come (bounded: at most ``MAX_HOSTS`` hosts are named, the rest
are counted together), and ``EgressAudit`` is the typed record ``metadata.json`` and the report
carry. Lines from the proxy's own address (reprobot's readiness check) are not the run's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

MAX_HOSTS = 200
OTHER = "(other hosts)"
TLS_MARKERS = (
    b"CERTIFICATE_VERIFY_FAILED",
    b"certificate verify failed",
    b"SSL certificate problem",
    b"server certificate verification failed",
    b"self-signed certificate in certificate chain",
    b"unable to get local issuer certificate",
)


@dataclass(frozen=True)
class EgressHost:
    host: str  # host, or host:port when not 80/443
    requests: int
    bytes_in: int  # from the destination to the run
    bytes_out: int  # from the run to the destination

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "requests": self.requests,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
        }


@dataclass(frozen=True)
class EgressAudit:
    mode: str  # policy | none | bridge | a named network
    allow: tuple[str, ...] = ()  # the allow-list the proxy applied (policy only)
    contacted: tuple[EgressHost, ...] = ()  # requests the proxy let through
    refused: tuple[EgressHost, ...] = ()  # requests the allow-list (or the private-address rule) refused
    failed: tuple[EgressHost, ...] = ()  # allowed, but the destination could not be reached
    bytes_in: int = 0
    bytes_out: int = 0
    audited: bool = False  # False: this mode has no proxy (none: nothing can leave; bridge: not audited)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "audited": self.audited,
            "allow": list(self.allow),
            "contacted": [h.to_dict() for h in self.contacted],
            "refused": [h.to_dict() for h in self.refused],
            "failed": [h.to_dict() for h in self.failed],
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
        }

    @classmethod
    def from_dict(cls, data: Any) -> EgressAudit | None:
        if not isinstance(data, dict):
            return None

        def hosts(key: str) -> tuple[EgressHost, ...]:
            out = []
            for h in data.get(key) or []:
                if isinstance(h, dict) and isinstance(h.get("host"), str):
                    out.append(
                        EgressHost(
                            h["host"], int(h.get("requests") or 0), int(h.get("bytes_in") or 0),
                            int(h.get("bytes_out") or 0),
                        )
                    )  # fmt: skip
            return tuple(out)

        return cls(
            mode=str(data.get("mode") or ""),
            allow=tuple(str(a) for a in data.get("allow") or ()),
            contacted=hosts("contacted"),
            refused=hosts("refused"),
            failed=hosts("failed"),
            bytes_in=int(data.get("bytes_in") or 0),
            bytes_out=int(data.get("bytes_out") or 0),
            audited=bool(data.get("audited")),
        )

    def summary(self) -> str:
        """One line for the report."""
        if not self.audited:
            return {"none": "no network", "bridge": "unrestricted (Docker's bridge), not audited"}.get(
                self.mode, f"network {self.mode}, not audited"
            )

        def names(hosts: tuple[EgressHost, ...]) -> str:
            shown = ", ".join(h.host for h in hosts[:5])
            return shown + (f" and {len(hosts) - 5} more" if len(hosts) > 5 else "")

        parts = [
            f"{len(self.contacted)} host(s) contacted"
            + (f" ({names(self.contacted)})" if self.contacted else "")
        ]
        parts.append(f"{_size(self.bytes_in)} in, {_size(self.bytes_out)} out")
        if self.refused:
            parts.append(
                f"{sum(h.requests for h in self.refused)} request(s) refused ({names(self.refused)})"
            )
        if self.failed:
            parts.append(f"{len(self.failed)} unreachable ({names(self.failed)})")
        return "egress through the allow-list proxy: " + "; ".join(parts)


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return f"{n} B"  # pragma: no cover


_LINE = re.compile(
    r"^(?P<ts>\d+\.\d+)\s+(?P<client>\S+)\s+(?P<code>\S+)/(?P<status>\d{3})\s+(?P<rin>\d+)\s+(?P<rout>\d+)"
    r"\s+(?P<method>\S+)\s+(?P<url>\S+)\s+(?P<server>\S+)"
)


def destination(method: str, url: str) -> str | None:
    if method == "CONNECT":
        host, _, port_text = url.rpartition(":")
        host = host.strip("[]").lower()
        return host if port_text in ("443", "") else f"{host}:{port_text}" if host else None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if not parts.hostname:
        return None
    port = parts.port
    return parts.hostname if port in (None, 80, 443) else f"{parts.hostname}:{port}"


@dataclass
class EgressTally:
    """Per-host counts folded from the proxy's log lines; bounded in memory."""

    ignore_client: str = ""
    counts: dict[tuple[str, str], list[int]] = field(default_factory=dict)  # (kind, host) -> [n, in, out]
    bytes_in: int = 0
    bytes_out: int = 0

    def feed(self, lines: Iterable[str]) -> None:
        for line in lines:
            m = _LINE.match(line)
            if not m or m["client"] == self.ignore_client:
                continue
            host = destination(m["method"], m["url"])
            if host is None:
                continue
            code, status = m["code"], int(m["status"])
            if code.endswith("DENIED") or status == 403 and m["server"] == "-":
                kind = "refused"
            elif status >= 500 or status == 0:
                kind = "failed"
            else:
                kind = "contacted"
            rin, rout = int(m["rin"]), int(m["rout"])
            if kind == "contacted":
                self.bytes_in += rin
                self.bytes_out += rout
            key = (kind, host)
            if key not in self.counts and sum(1 for k in self.counts if k[0] == kind) >= MAX_HOSTS:
                key = (kind, OTHER)
            entry = self.counts.setdefault(key, [0, 0, 0])
            entry[0] += 1
            entry[1] += rin
            entry[2] += rout

    def audit(self, mode: str, allow: tuple[str, ...]) -> EgressAudit:
        def hosts(kind: str) -> tuple[EgressHost, ...]:
            found = [EgressHost(h, n, i, o) for (k, h), (n, i, o) in self.counts.items() if k == kind]
            return tuple(sorted(found, key=lambda e: (-e.bytes_in - e.bytes_out, -e.requests, e.host)))

        return EgressAudit(
            mode=mode,
            allow=allow,
            contacted=hosts("contacted"),
            refused=hosts("refused"),
            failed=hosts("failed"),
            bytes_in=self.bytes_in,
            bytes_out=self.bytes_out,
            audited=True,
        )


def egress_notes(audit: EgressAudit | None, log_head_tail: bytes) -> tuple[str, ...]:
    """One line each when the run's egress failed for TLS or for the policy (the report shows them)."""
    notes: list[str] = []
    tls = any(marker in log_head_tail for marker in TLS_MARKERS)
    if tls:
        notes.append(
            "egress: TLS verification failed inside the run (a certificate was not trusted); reprobot gives "
            "the run this host's CA bundle (SSL_CERT_FILE, PIP_CERT, REQUESTS_CA_BUNDLE, the system store)"
        )
    if audit is not None and audit.audited and audit.refused:
        hosts = ", ".join(h.host for h in audit.refused[:5])
        notes.append(
            f"egress: the allow-list refused {sum(h.requests for h in audit.refused)} request(s) to {hosts}"
            + (f" and {len(audit.refused) - 5} more host(s)" if len(audit.refused) > 5 else "")
            + " (not on runner.egress_allow or the paper's list)"
        )
    return tuple(notes)
