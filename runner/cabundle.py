"""The CA bundle a run trusts: this host's, for hosts whose HTTPS goes through an intercepting proxy.

Corporate, university and cloud GPU hosts often reach the internet through a TLS-intercepting
proxy whose CA only the host trusts; a container with the image's own CA store then fails every
``pip install`` with CERTIFICATE_VERIFY_FAILED. ``runner.ca_bundle`` names the bundle to give a
run (a PEM file), ``none`` gives nothing, ``auto`` (the default) finds this host's: the bundle
reprobot's own environment names (``SSL_CERT_FILE``, ``REQUESTS_CA_BUNDLE``, ``PIP_CERT``,
``CURL_CA_BUNDLE``), else the system store. It reaches the container the standard ways, written
into the container before it starts (no host path is mounted):

- the system store ``/etc/ssl/certs/ca-certificates.crt``: the image's own certificates plus the
  ones the image lacks (what the host trusts besides the public roots);
- those extra certificates under ``/usr/local/share/ca-certificates/reprobot/`` too, so an
  ``update-ca-certificates`` inside the run keeps them;
- ``SSL_CERT_FILE``, ``PIP_CERT``, ``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``, ``GIT_SSL_CAINFO``
  and ``NODE_EXTRA_CA_CERTS`` naming the system store (pip uses its own bundle otherwise).

Nothing is written when the image already trusts everything the host does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from runner.errors import InfraError

SYSTEM_STORE = "/etc/ssl/certs/ca-certificates.crt"
EXTRA_DIR = "/usr/local/share/ca-certificates/reprobot"
HOST_STORES = (
    Path("/etc/ssl/certs/ca-certificates.crt"),  # Debian, Ubuntu
    Path("/etc/pki/tls/certs/ca-bundle.crt"),  # Fedora, RHEL
    Path("/etc/ssl/cert.pem"),  # Alpine, macOS
)
ENV_KEYS = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "PIP_CERT", "CURL_CA_BUNDLE")
CONTAINER_ENV = ("SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "GIT_SSL_CAINFO",
                 "NODE_EXTRA_CA_CERTS")  # fmt: skip
_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----\s+.+?-----END CERTIFICATE-----", re.S)
MAX_BUNDLE_BYTES = 8 * 1024**2


def certificates(pem: bytes) -> list[bytes]:
    """The PEM certificate blocks of a bundle, normalised (whitespace inside a block does not matter)."""
    out = []
    for block in _PEM.findall(pem):
        body = b"".join(block.split(b"-----")[2].split())
        lines = b"\n".join(body[i : i + 64] for i in range(0, len(body), 64))
        out.append(b"-----BEGIN CERTIFICATE-----\n" + lines + b"\n-----END CERTIFICATE-----\n")
    return out


def find_bundle(setting: str, environ: Mapping[str, str]) -> Path | None:
    """``runner.ca_bundle``: auto | none | a path. InfraError when a named file is unusable."""
    value = setting.strip()
    if value.lower() == "none":
        return None
    if value.lower() != "auto":
        path = Path(value).expanduser()
        if not path.is_file() or not certificates(path.read_bytes()[:MAX_BUNDLE_BYTES]):
            raise InfraError(f"runner.ca_bundle {value}: not a readable PEM bundle")
        return path
    for key in ENV_KEYS:
        candidate = environ.get(key, "")
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return next((p for p in HOST_STORES if p.is_file()), None)


@dataclass(frozen=True)
class TrustPlan:
    """What a run gets: files written into the container and the environment naming them."""

    bundle: Path | None
    extra: int = 0  # certificates the image did not have
    files: Mapping[str, bytes] = field(default_factory=dict)
    environment: Mapping[str, str] = field(default_factory=dict)


def plan(bundle: Path | None, image_store: bytes | None) -> TrustPlan:
    """The files and variables that make a container trust ``bundle`` (besides its own store)."""
    if bundle is None:
        return TrustPlan(None)
    host = certificates(bundle.read_bytes()[:MAX_BUNDLE_BYTES])
    own = certificates(image_store or b"")
    known = set(own)
    extra = [c for c in dict.fromkeys(host) if c not in known]
    if not extra:
        return TrustPlan(bundle)
    files = {f"{EXTRA_DIR}/reprobot-{i:03d}.crt": cert for i, cert in enumerate(extra)}
    files[SYSTEM_STORE] = b"".join(own + extra)
    return TrustPlan(bundle, len(extra), files, {key: SYSTEM_STORE for key in CONTAINER_ENV})
