"""A private head repository is cloned with a short-lived installation token that never enters the
container: the token travels only in git's environment (an ``http.extraHeader``), over https only,
so it is in neither the command line, nor ``.git/config``, nor any file of the fetched tree. Real
``git`` against a real HTTPS server that refuses clones without the token; the token comes from
the GitHub stand-in's installation-token endpoint (App auth), and a personal token is never used."""

from __future__ import annotations

import base64
import datetime
import ssl
import subprocess
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bot.github.pygithub import github_factory
from bot.settings import Settings
from runner.errors import SubmissionError
from runner.fetch import fetch_submission
from tests.bot.test_bot_actions_and_auth import _app_settings
from tests.standins.github_server import GitHubStandIn

TOKEN = "ghs_private_clone_token_123"
AUTH = "Basic " + base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()


def _cert(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@pytest.fixture
def private_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str, list[str]]]:
    """A private repository served over HTTPS (git's dumb protocol) only to the token's bearer."""
    work = tmp_path / "src"
    work.mkdir()
    (work / "reproduce.sh").write_text("#!/bin/bash\necho private\n")
    git = ["git", "-c", "user.name=p", "-c", "user.email=p@example.invalid"]
    subprocess.run([*git, "init", "-q", str(work)], check=True)
    subprocess.run([*git, "-C", str(work), "add", "-A"], check=True)
    subprocess.run([*git, "-C", str(work), "commit", "-qm", "x"], check=True)
    sha = subprocess.run(
        ["git", "-C", str(work), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    )
    served = tmp_path / "served"
    served.mkdir()
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(served / "repo.git")], check=True)
    subprocess.run(["git", "-C", str(served / "repo.git"), "update-server-info"], check=True)
    cert, key = _cert(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text(f"[http]\n\tsslCAInfo = {cert}\n")  # trust the test's CA only
    monkeypatch.setenv("HOME", str(home))
    seen: list[str] = []

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            seen.append(self.headers.get("Authorization") or "")
            if self.headers.get("Authorization") != AUTH:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="private"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            super().do_GET()

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(served)))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{server.server_address[1]}/repo.git", sha.stdout.strip(), seen
    server.shutdown()
    server.server_close()


def test_the_token_opens_the_clone_and_stays_out_of_the_tree(
    private_repo: tuple[str, str, list[str]], tmp_path: Path
) -> None:
    url, sha, seen = private_repo
    with pytest.raises(SubmissionError):  # private: no token, no clone
        fetch_submission(f"{url}@{sha}", tmp_path / "denied", max_bytes=10**7)
    fetched = fetch_submission(f"{url}@{sha}", tmp_path / "ok", max_bytes=10**7, http_auth=AUTH)
    assert fetched.commit == sha and (fetched.root / "reproduce.sh").is_file()
    assert AUTH in seen
    for path in fetched.root.rglob("*"):  # .git included: nothing a container could read
        if path.is_file():
            data = path.read_bytes()
            assert TOKEN.encode() not in data and AUTH.encode() not in data, path


def test_the_token_is_never_sent_over_plain_file_urls(
    tmp_path: Path, private_repo: tuple[str, str, list[str]]
) -> None:
    url, sha, seen = private_repo
    src = tmp_path / "served" / "repo.git"
    fetch_submission(f"file://{src}@{sha}", tmp_path / "local", max_bytes=10**7, http_auth=AUTH)
    assert seen == []


def test_app_auth_gives_a_short_lived_installation_token(tmp_path: Path, github: GitHubStandIn) -> None:
    client = github_factory(_app_settings(tmp_path, github))(1, "Codertocat/Hello-World")
    auth = client.clone_auth("Codertocat/Hello-World")
    assert auth is not None and auth.startswith("Basic ")
    user, _, token = base64.b64decode(auth[6:]).decode().partition(":")
    assert user == "x-access-token" and token in {t["token"] for t in github.tokens}


def test_a_personal_token_is_never_handed_to_git(settings: Settings) -> None:
    assert (
        github_factory(settings)(None, "Codertocat/Hello-World").clone_auth("Codertocat/Hello-World") is None
    )
