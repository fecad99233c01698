"""A run's network is by policy: its own network, nothing on this host or on other networks reachable,
egress only through the allow-listing proxy, and every destination audited.

Invariants (``network: policy``, the default): a listener the test places on the host side of a
network it created, and one bound to 0.0.0.0 on this host, accept nothing from a run, directly or
through the proxy (private addresses are refused by the proxy's rules, everything else on the host
by the firewall's); a second run's server is unreachable from a run; ``pip install`` of a small
package from the package index works inside the paperbench profile through the proxy, with this
host's CA bundle given to the container; a host not on the allow-list is refused without a lookup
and listed in the audit, which ``metadata.json`` and the report carry; without the CA bundle the
run's TLS failure is said in one line; nothing of a run's network is left afterwards.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.firewall import IptablesFirewall
from runner.janitor import OWNER_LABEL, owner_label
from runner.reproduce import ReproduceOptions, reproduce

pytestmark = pytest.mark.docker


def opts(image: str, **kw: object) -> ReproduceOptions:
    base: dict[str, object] = dict(
        image=image, timeout_s=120, memory="512m", cpus=1.0, pids_limit=256, network="policy", salvage=False,
        disk_limit="2g",
    )  # fmt: skip
    base.update(kw)
    return ReproduceOptions(**base)  # type: ignore[arg-type]


class Listener(threading.Thread):
    """A TCP listener of the test's own, counting every connection it accepts."""

    def __init__(self, address: str) -> None:
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((address, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.sendall(b"HTTP/1.0 200 OK\r\n\r\nhost service\n")
            conn.close()
        self.sock.close()


@pytest.fixture
def test_network() -> Iterator[str]:
    """A bridge network of the test's own; yields its gateway (the host's address on it)."""
    name = f"reprobot-test-net-{int(time.time() * 1000) % 10**8}"
    subprocess.run(["docker", "network", "create", name], check=True, capture_output=True)
    try:
        gateway = "{{(index .IPAM.Config 0).Gateway}}"
        out = subprocess.run(["docker", "network", "inspect", name, "-f", gateway],
                             check=True, capture_output=True, text=True).stdout.strip()  # fmt: skip
        yield out
    finally:
        subprocess.run(["docker", "network", "rm", name], capture_output=True)


def test_host_listeners_are_unreachable_from_a_run(
    tmp_path: Path, repro_image: str, docker_engine: object, test_network: str
) -> None:
    on_net, on_all = Listener(test_network), Listener("0.0.0.0")
    on_net.start()
    on_all.start()
    try:
        script = f"""
own_gw=$(python3 -c "import os; print(os.environ['http_proxy'].split('//')[1].split(':')[0])")
for url in http://{test_network}:{on_net.port}/ http://$own_gw:{on_all.port}/ \
           http://127.0.0.1:{on_all.port}/; do
  curl -sS -m 5 --noproxy '*' -o /dev/null "$url" && echo "DIRECT-REACHED $url" || echo "direct refused $url"
  code=$(curl -sS -m 5 -o /dev/null -w "%{{http_code}}" "$url")
  [ "$code" = 200 ] && echo "PROXY-REACHED $url" || echo "proxy refused $url"
done
"""
        sub = tmp_path / "sub"
        sub.mkdir()
        (sub / "reproduce.sh").write_text(script)
        meta = reproduce(sub, tmp_path / "out", opts(repro_image), engine=docker_engine)  # type: ignore[arg-type]
    finally:
        on_net.done.set()
        on_all.done.set()
    log = (tmp_path / "out" / "reproduce.log").read_text()
    assert "REACHED" not in log and log.count("refused") == 6, log
    assert (on_net.accepted, on_all.accepted) == (0, 0)
    assert meta.egress is not None and {h.host for h in meta.egress.refused} >= {
        f"{test_network}:{on_net.port}"
    }  # the proxy refused the private address; the direct tries never reached it
    firewall = IptablesFirewall()
    assert firewall.guards_input() and not [r for r in firewall.rules() if "ACCEPT" in r and "rb-" in r]
    nets = docker_engine.labelled_networks(f"{OWNER_LABEL}={owner_label()}")  # type: ignore[attr-defined]
    assert nets == []  # the run's network is gone with it
    print(
        f"network: direct and proxied tries to 2 host listeners: {on_net.accepted + on_all.accepted} accepted"
    )


def test_a_second_runs_server_is_unreachable(tmp_path: Path, repro_image: str, docker_engine: object) -> None:
    server = tmp_path / "server"
    server.mkdir()
    (server / "reproduce.sh").write_text(
        "ip=$(hostname -i | awk '{print $1}'); echo \"server ip $ip\"\n"
        "python3 -m http.server 8000 --bind 0.0.0.0 > http.log 2>&1 &\nsleep 2\n"
        "curl -sS -m 5 --noproxy '*' -o /dev/null -w 'self %{http_code}\\n' http://$ip:8000/\n"
        "sleep 25\ncat http.log\n"
    )
    results: dict[str, object] = {}

    def run_server() -> None:
        results["server"] = reproduce(
            server, tmp_path / "out-server", opts(repro_image), engine=docker_engine
        )  # type: ignore[arg-type]

    thread = threading.Thread(target=run_server)
    thread.start()
    peer = None  # the server says its address in its log, which is written as it comes
    log = tmp_path / "out-server" / "attempts" / "1" / "reproduce.log"
    end = time.monotonic() + 90
    while peer is None and time.monotonic() < end:
        text = log.read_text() if log.is_file() else ""
        if "self 200" in text:
            peer = text.split("server ip ")[1].split()[0]
        else:
            time.sleep(0.3)
    assert peer, "the server run never started"
    client = tmp_path / "client"
    client.mkdir()
    (client / "reproduce.sh").write_text(
        f"curl -sS -m 5 --noproxy '*' -o /dev/null http://{peer}:8000/ && echo DIRECT-REACHED "
        "|| echo 'direct refused'\n"
        f"code=$(curl -sS -m 5 -o /dev/null -w '%{{http_code}}' http://{peer}:8000/)\n"
        "[ \"$code\" = 200 ] && echo PROXY-REACHED || echo 'proxy refused'\n"
    )
    meta = reproduce(client, tmp_path / "out-client", opts(repro_image), engine=docker_engine)  # type: ignore[arg-type]
    thread.join(timeout=120)
    log = (tmp_path / "out-client" / "reproduce.log").read_text()
    assert "REACHED" not in log and log.count("refused") == 2, log
    served = (tmp_path / "out-server" / "reproduce.log").read_text()
    assert "self 200" in served  # the server did serve, to itself
    assert served.count("GET / ") == 1, served  # and to nobody else
    assert meta.egress is not None and f"{peer}:8000" in {h.host for h in meta.egress.refused}


def test_pip_install_works_through_the_proxy_and_a_blocked_host_is_refused_and_audited(
    tmp_path: Path, repro_image: str
) -> None:
    from click.testing import CliRunner
    from pip._internal.models.index import PyPI

    from bot.cli import main

    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "reproduce.sh").write_text(
        "python3 -m pip install --no-cache-dir --disable-pip-version-check --target /tmp/pkgs six\n"
        "PYTHONPATH=/tmp/pkgs python3 -c 'import six; print(\"six imported\", six.__version__)'\n"
        'curl -sS -m 10 -o /dev/null https://blocked.example/ || echo "blocked rc=$?"\n'
    )
    config = tmp_path / "c.yaml"
    config.write_text(
        f"runner:\n  image: {repro_image}\n  memory: 512m\n  salvage: false\n  disk_limit: 4g\n"
    )
    out = tmp_path / "out"
    args = [
        "--config",
        str(config),
        "grade",
        str(sub),
        "--paper",
        "tiny-moons",
        "--out",
        str(out),
        "--judge",
        "dummy",
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.stderr
    log = (out / "reproduce.log").read_text()
    assert "six imported" in log and "blocked rc=" in log, log
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["status"] == "completed" and meta["exit_code"] == 0 and meta["limits"]["network"] == "policy"
    egress = meta["egress"]
    contacted = {h["host"]: h for h in egress["contacted"]}
    assert {PyPI.netloc, PyPI.file_storage_domain} <= set(contacted)
    assert contacted[PyPI.file_storage_domain]["bytes_in"] > 10_000  # the wheel came through
    assert [h["host"] for h in egress["refused"]] == ["blocked.example"]
    assert PyPI.netloc in egress["allow"] and egress["audited"]
    html = (out / "report.html").read_text()
    assert "egress through the allow-list proxy" in html and "blocked.example" in html
    print(
        "egress audit: "
        + json.dumps({k: egress[k] for k in ("contacted", "refused", "bytes_in", "bytes_out")})
    )


def test_without_the_hosts_ca_bundle_the_tls_failure_is_said_in_one_line(
    tmp_path: Path, repro_image: str, docker_engine: object
) -> None:
    from pip._internal.models.index import PyPI

    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "reproduce.sh").write_text(f"curl -sS -m 10 -o /dev/null https://{PyPI.netloc}/simple/ || true\n")
    meta = reproduce(sub, tmp_path / "out", opts(repro_image, ca_bundle="none"), engine=docker_engine)  # type: ignore[arg-type]
    log = (tmp_path / "out" / "reproduce.log").read_text()
    if "SSL certificate problem" not in log:
        pytest.skip("this host's HTTPS is not intercepted: the image's own store suffices here")
    assert [n for n in meta.notes if n.startswith("egress: TLS verification failed")]
