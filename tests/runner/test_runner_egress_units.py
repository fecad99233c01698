"""The parts of a run's network policy that need no engine: the allow-list, the proxy's
configuration, the audit, the CA bundle, the seccomp profile and the record of what a run holds.

Invariants: registry host names come from the tools' own configuration (pip's default index, apt
sources), never from reprobot's source; entries are host names, ``.domains`` or IP addresses
(nothing else can reach squid's configuration); the proxy refuses what is not allowed before any
name lookup and refuses private, loopback and link-local destinations when it connects directly;
the audit names hosts contacted and refused with their bytes, bounded in size, and ignores the
proxy's own readiness check; the log never grows past its rotation size on disk; a run trusts
exactly the certificates its image lacks; the seccomp profile is the engine's minus the denied
calls; teardown gives back everything recorded, once.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from runner import allowlist, egress_proxy, seccomp
from runner.cabundle import CONTAINER_ENV, EXTRA_DIR, SYSTEM_STORE, certificates, find_bundle, plan
from runner.config import RunnerSettings
from runner.egress_audit import MAX_HOSTS, OTHER, EgressAudit, EgressTally, egress_notes
from runner.egress_proxy import LogFollower, ProxyPlan, RunningProxy, squid_config, upstream_from
from runner.errors import InfraError
from runner.options import ReproduceOptions, paper_overrides
from runner.run_state import RunState, teardown

ROOT = Path(__file__).resolve().parents[2]


def test_no_registry_host_is_written_in_the_runner() -> None:
    from pip._internal.models.index import PyPI

    registry = [PyPI.netloc, PyPI.file_storage_domain]
    apt = allowlist.apt_source_hosts(allowlist.host_apt_texts())
    for path in (ROOT / "runner").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for host in [*registry, *apt]:
            assert host not in text, f"{path}: names {host}; derive it from the tools' configuration"


def test_defaults_come_from_pip_and_apt_and_the_organizer_adds() -> None:
    from pip._internal.models.index import PyPI

    hosts = allowlist.default_hosts({"PIP_EXTRA_INDEX_URL": "https://wheels.example.org/simple"})
    assert {PyPI.netloc, PyPI.file_storage_domain, "wheels.example.org"} <= set(hosts)
    assert set(allowlist.apt_source_hosts(allowlist.host_apt_texts())) <= set(hosts)
    assert {"download.pytorch.org", ".huggingface.co", ".github.com"} <= set(hosts)
    ubuntu = "Types: deb\nURIs: http://mirror.example.net/ubuntu/\nSuites: noble\nComponents: main\n"
    image = allowlist.image_apt_texts({"/etc/apt/sources.list.d/ubuntu.sources": ubuntu.encode()})
    run = allowlist.allow_list(defaults=True, configured=["Data.Example.com"], paper=["*.zenodo.org"],
                               image_apt=image, environ={})  # fmt: skip
    assert {"mirror.example.net", "data.example.com", ".zenodo.org"} <= set(run)
    assert allowlist.allow_list(defaults=False, configured=["a.example"], environ={}) == ("a.example",)


@pytest.mark.parametrize(
    "given, expected",
    [("https://Files.Example.org/x/y", "files.example.org"), ("*.example.org", ".example.org"),
     ("example.org:8443", "example.org"), ("[::1]", "::1"), ("10.0.0.1", "10.0.0.1")],
)  # fmt: skip
def test_entries_are_normalised(given: str, expected: str) -> None:
    assert allowlist.normalise_entry(given) == expected


@pytest.mark.parametrize("bad", ["", "a b", "x.org\nhttp_access allow all", "-rf", "a..b", "."])
def test_anything_but_a_host_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        allowlist.normalise_entry(bad)
    with pytest.raises(ValueError):
        RunnerSettings(egress_allow=[bad])


def test_compact_drops_what_a_domain_covers() -> None:
    assert allowlist.compact(["github.com", ".github.com", "api.github.com", "x.org", "x.org"]) == (
        ".github.com",
        "x.org",
    )


def plan_(tmp_path: Path, upstream: str | None = None) -> ProxyPlan:
    return ProxyPlan("172.30.0.1", 3999, "172.30.0.0/16", ("files.example.org", ".hf.co"), upstream, tmp_path)


def test_the_proxy_refuses_before_any_lookup_and_never_reaches_private_addresses(tmp_path: Path) -> None:
    conf = squid_config(plan_(tmp_path)).splitlines()
    assert "http_port 172.30.0.1:3999" in conf and "acl run_clients src 172.30.0.0/16" in conf
    order = [line for line in conf if line.startswith("http_access")]
    assert order == [
        "http_access deny !run_clients", "http_access deny !Safe_ports",
        "http_access deny CONNECT !SSL_ports",
        "http_access deny !allowed", "http_access deny private_dst", "http_access allow allowed",
        "http_access deny all",
    ]  # fmt: skip
    assert "acl allowed dstdomain -n files.example.org .hf.co" in conf
    private = next(line for line in conf if line.startswith("acl private_dst"))
    for net in (
        "10.0.0.0/8",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "fe80::/10",
    ):
        assert net in private.split()
    assert "cache deny all" in conf and "via off" in conf
    up = squid_config(plan_(tmp_path, "http://proxy.corp.example:3128")).splitlines()
    assert "never_direct allow all" in up and any(
        line.startswith("cache_peer proxy.corp.example parent 3128") for line in up
    )


def test_upstream_proxy_setting() -> None:
    assert upstream_from("auto", {"https_proxy": "http://p.example:8080"}) == "http://p.example:8080"
    assert upstream_from("auto", {}) is None and upstream_from("none", {"https_proxy": "http://x:1"}) is None
    with pytest.raises(InfraError):
        upstream_from("https://p.example", {})


LINES = [
    "1796229627.241 172.30.0.1 NONE_NONE/000 0 0 - error:transaction-end-before-headers -",
    "1796229631.785 172.30.0.2 TCP_DENIED/403 3409 133 GET http://172.30.0.1:18765/ -",
    "1796229631.832 172.30.0.2 TCP_TUNNEL/200 2319 632 CONNECT files.example.org:443 203.0.113.80",
    "1796229631.833 172.30.0.2 TCP_TUNNEL/200 1000 100 CONNECT files.example.org:443 203.0.113.80",
    "1796229631.849 172.30.0.2 TCP_DENIED/403 3403 114 CONNECT blocked.example:443 -",
    "1796229631.963 172.30.0.2 TCP_MISS/200 149480 158 GET http://mirror.example.net/d/Release 203.0.113.80",
    "1796229632.000 172.30.0.2 TCP_MISS/503 0 50 CONNECT down.hf.co:443 -",
]


def test_the_audit_names_hosts_bytes_and_refusals() -> None:
    tally = EgressTally(ignore_client="172.30.0.1")
    tally.feed(LINES)
    audit = tally.audit("policy", ("files.example.org",))
    assert [(h.host, h.requests, h.bytes_in, h.bytes_out) for h in audit.contacted] == [
        ("mirror.example.net", 1, 149480, 158), ("files.example.org", 2, 3319, 732),
    ]  # fmt: skip
    assert [h.host for h in audit.refused] == ["172.30.0.1:18765", "blocked.example"]  # by bytes
    assert [h.host for h in audit.failed] == ["down.hf.co"]
    assert audit.bytes_in == 149480 + 3319 and audit.audited
    again = EgressAudit.from_dict(json.loads(json.dumps(audit.to_dict())))
    assert again == audit
    assert (
        "2 host(s) contacted" in audit.summary()
        and "refused (172.30.0.1:18765, blocked.example)" in audit.summary()
    )
    notes = egress_notes(
        audit, b"... certificate verify failed: self-signed certificate in certificate chain"
    )
    assert len(notes) == 2 and notes[0].startswith("egress: TLS") and "blocked.example" in notes[1]


def test_the_audit_stays_bounded() -> None:
    tally = EgressTally()
    tally.feed(f"1.0 10.0.0.2 TCP_DENIED/403 10 10 CONNECT h{i}.example:443 -" for i in range(5 * MAX_HOSTS))
    audit = tally.audit("policy", ())
    assert len(audit.refused) == MAX_HOSTS + 1
    assert [h.requests for h in audit.refused if h.host == OTHER] == [4 * MAX_HOSTS]


def test_the_log_is_rotated_and_nothing_is_lost(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(egress_proxy, "ROTATE_AT_BYTES", 10_000)
    p = plan_(tmp_path)
    p.access_log.parent.mkdir(parents=True)
    writer = open(p.access_log, "a")  # noqa: SIM115 - plays squid, which keeps its file open

    def reopen(pid: int) -> None:  # squid's answer to SIGUSR1: close, open the path anew
        nonlocal writer
        writer.close()
        writer = open(p.access_log, "a")  # noqa: SIM115

    tally = EgressTally()
    follower = LogFollower(RunningProxy(0, p), tally, every_s=3600, reopen=reopen)
    sizes = []
    for i in range(2000):
        writer.write(f"1.0 10.0.0.2 TCP_TUNNEL/200 100 10 CONNECT h{i % 7}.example:443 1.2.3.4\n")
        writer.flush()
        if i % 100 == 99:
            follower.drain()
            sizes.append(os.path.getsize(p.access_log))
    writer.close()
    follower.finish()
    assert max(sizes) < 20_000 and sum(h.requests for h in tally.audit("policy", ()).contacted) == 2000


def pem(n: int) -> bytes:
    import base64

    body = base64.b64encode(bytes([n]) * 300).decode()
    return f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n".encode()


def test_a_run_trusts_exactly_what_its_image_lacks(tmp_path: Path) -> None:
    host = tmp_path / "host.pem"
    host.write_bytes(pem(1) + pem(2) + b"\n" + pem(3))
    trust = plan(host, pem(1) + pem(2))
    assert trust.extra == 1 and set(trust.files) == {SYSTEM_STORE, f"{EXTRA_DIR}/reprobot-000.crt"}
    assert certificates(trust.files[SYSTEM_STORE]) == certificates(pem(1) + pem(2) + pem(3))
    assert set(trust.environment) == set(CONTAINER_ENV) and set(trust.environment.values()) == {SYSTEM_STORE}
    assert plan(host, pem(3) + pem(2) + pem(1)).files == {}  # the image trusts it all: nothing written
    assert find_bundle("auto", {"SSL_CERT_FILE": str(host)}) == host and find_bundle("none", {}) is None
    with pytest.raises(InfraError):
        find_bundle(str(tmp_path / "missing.pem"), {})


def test_the_seccomp_profile_is_the_engines_minus_the_denied_calls() -> None:
    base = json.loads(seccomp.BASE.read_text())
    ours = json.loads(seccomp.reprobot_profile())
    for name in seccomp.DENIED:
        assert seccomp.allowed(base, name) or name in ("pidfd_getfd",)
        assert not seccomp.allowed(ours, name)
    names = {n for r in base["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" for n in r["names"]}
    assert {n for n in names if n not in seccomp.DENIED} == {
        n for r in ours["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" for n in r["names"]
    }
    assert ours["defaultAction"] == base["defaultAction"] == "SCMP_ACT_ERRNO"


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def remove_container(self, cid: str) -> None:
        self.calls.append(("container", cid))

    def remove_network(self, name: str) -> None:
        self.calls.append(("network", name))

    def revoke(self, bridge: str, gateway: str, port: int) -> None:
        self.calls.append(("rule", (bridge, gateway, port)))


def test_teardown_gives_back_everything_recorded_once(tmp_path: Path) -> None:
    state = RunState(owner="h:1", path=tmp_path / "run-state.json")
    state.note("containers", "c1")
    state.note("networks", "reprobot-x-1")
    state.note("rules", ("rb-x", "172.30.0.1", 3999))
    image = tmp_path / "fs.img"
    image.write_bytes(b"x")
    state.note("mounts", (str(tmp_path / "fs"), str(image)))
    loaded = RunState.load(state.path)  # type: ignore[arg-type]
    assert loaded is not None and loaded.rules == [("rb-x", "172.30.0.1", 3999)] and not loaded.empty
    rec = Recorder()
    assert teardown(loaded, rec, rec) == []  # type: ignore[arg-type]
    assert rec.calls == [
        ("container", "c1"),
        ("rule", ("rb-x", "172.30.0.1", 3999)),
        ("network", "reprobot-x-1"),
    ]
    assert loaded.empty and not image.exists()
    assert teardown(RunState.load(state.path), rec, rec) == [] and len(rec.calls) == 3  # type: ignore[arg-type]


def test_a_papers_own_limits_add_to_the_configuration() -> None:
    settings = RunnerSettings(egress_allow=["a.example"])
    paper = {"reproduction_timeout_s": 60, "runner": {"egress_allow": ["b.example"], "disk_limit": "none"}}
    over = paper_overrides(settings, paper)
    options = ReproduceOptions.from_settings(settings, **over)
    assert options.egress_allow == ("a.example", "b.example") and options.disk_limit is None
    assert options.timeout_s == 60.0
    with pytest.raises(ValueError, match="unknown key"):
        paper_overrides(settings, {"runner": {"privileged": True}})
    with pytest.raises(ValueError):
        paper_overrides(settings, {"runner": {"egress_allow": ["not a host"]}})
