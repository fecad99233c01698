"""Served pages run no one's script: under ``reprobot serve`` only the report reprobot rendered, at a
result folder's root, is ``text/html``, and its CSP admits only the hashes of reprobot's own scripts;
everything a hostile Actions artifact or submission brings (``jobN-gG-executed/report.html`` with a
``grade.json`` beside it, ``attempts/1/report.html``, SVG with script, HTML under an image's name)
is plain text, an image type, sandboxed SVG or a download, always with ``nosniff``. Checked on the
whole app's responses and, in Debian's chromium, by whether a planted script ever runs."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from evidence_fixtures import worked_example_result

from bot.github.pygithub import safe_unzip
from bot.report import write_html_report
from bot.report.scripts import script_hash, script_text
from bot.report.serve import report_csp
from bot.server import create_app
from bot.settings import Settings
from tests.needs import CHROMIUM_REASON, chromedriver_path, chromium_path, chromium_ready

EVIL = "<html><head><title>safe</title></head><body><script>document.title='PWNED'</script></body></html>"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
FOLDER = "org__bench/pr3/job1-g0"


def _hostile_artifact(path: Path) -> Path:
    """What a forged or hostile reproduction could upload: HTML pages where reports live."""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("report.html", EVIL)
        zf.writestr("grade.json", json.dumps({"id": "root", "score": 1.0}))
        zf.writestr("attempts/1/report.html", EVIL)
        zf.writestr("attempts/1/grade.json", "{}")
        zf.writestr("reproduce.log", "fine\n")
        zf.writestr("submission/plot.png", PNG)
        zf.writestr("submission/fake.png", EVIL)  # HTML under an image's name
        zf.writestr("submission/figure.svg", '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')
        zf.writestr("submission/weights.bin", bytes(range(256)) * 4)
        zf.writestr("submission/notes.html", EVIL)
    return path


@pytest.fixture
def served_root(tmp_path: Path) -> Path:
    root = tmp_path / "results"
    folder = worked_example_result(root / FOLDER, "weak")
    write_html_report(folder)
    safe_unzip(_hostile_artifact(tmp_path / "a.zip"), root / f"{FOLDER}-executed")
    (folder / "submission" / "evil.html").write_text(EVIL, encoding="utf-8")
    return root


def script_hashes(html: str) -> tuple[str, ...]:
    """CSP hash sources of a page's inline scripts, as a browser computes them."""
    return tuple(
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in re.findall(r"<script>(.*?)</script>", html, re.S)
    )


def _client(root: Path) -> Any:
    return create_app(Settings(data_dir=root.parent, bot={"results_dir": str(root)})).test_client()


def test_only_reprobots_own_report_is_html(served_root: Path) -> None:
    client = _client(served_root)
    r = client.get(f"/results/{FOLDER}/report.html")
    assert r.mimetype == "text/html" and r.headers["X-Content-Type-Options"] == "nosniff"
    csp = r.headers["Content-Security-Policy"]
    sources = re.search(r"script-src ([^;]*)", csp)
    assert sources is not None and "unsafe-inline" not in sources.group(1)
    served_scripts = script_hashes(r.get_data(as_text=True))
    assert served_scripts and all(h in sources.group(1) for h in served_scripts)  # ours run
    assert script_hashes(EVIL)[0] not in csp  # a planted one never does
    for rel in ("-executed/report.html", "-executed/attempts/1/report.html",
                "-executed/submission/notes.html", "/submission/evil.html"):  # fmt: skip
        r = client.get(f"/results/{FOLDER}{rel}")
        assert r.status_code == 200, rel
        assert r.headers["Content-Type"] == "text/plain; charset=utf-8", rel
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in r.headers["Content-Security-Policy"]


def test_images_svg_and_bytes_each_get_their_type(served_root: Path) -> None:
    client = _client(served_root)
    base = f"/results/{FOLDER}-executed/submission"
    png = client.get(f"{base}/plot.png")
    assert png.mimetype == "image/png" and png.headers["X-Content-Type-Options"] == "nosniff"
    fake = client.get(f"{base}/fake.png")  # an image type, never sniffed into HTML
    assert fake.mimetype == "image/png" and fake.headers["X-Content-Type-Options"] == "nosniff"
    svg = client.get(f"{base}/figure.svg")
    assert svg.mimetype == "image/svg+xml"
    assert svg.headers["Content-Security-Policy"] == "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    blob = client.get(f"{base}/weights.bin")
    assert blob.mimetype == "application/octet-stream"
    assert blob.headers["Content-Disposition"].startswith("attachment")
    assert blob.headers["X-Content-Type-Options"] == "nosniff"


def test_every_answer_of_the_app_carries_the_security_headers(served_root: Path) -> None:
    client = _client(served_root)
    for url in ("/healthz", f"/results/{FOLDER}/", "/results/nope", "/leaderboard"):
        r = client.get(url)
        assert r.headers["X-Content-Type-Options"] == "nosniff", url
        assert r.headers["X-Frame-Options"] == "DENY", url
        assert "default-src 'none'" in r.headers["Content-Security-Policy"], url
    board = served_root / "leaderboard.html"
    board.write_text(EVIL, encoding="utf-8")
    r = client.get("/leaderboard")
    assert r.mimetype == "text/html"
    sources = re.search(r"script-src ([^;]*)", r.headers["Content-Security-Policy"])
    assert sources is not None and script_hashes(EVIL)[0] not in sources.group(1)
    assert "unsafe-inline" not in sources.group(1)


def test_the_report_csp_hashes_reprobots_own_script() -> None:
    """The hash comes from the script file the page includes verbatim: a fixed file, never templated."""
    body = script_text("report")
    assert "{{" not in body and "{%" not in body and "{#" not in body
    csp = report_csp()
    assert script_hash("report") in csp
    assert re.search(r"script-src 'sha256-[A-Za-z0-9+/=]{44}'", csp)
    assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";", 1)[0]


@pytest.fixture
def http_base(served_root: Path) -> Iterator[str]:
    from werkzeug.serving import make_server

    app = create_app(Settings(data_dir=served_root.parent, bot={"results_dir": str(served_root)}))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.mark.browser
@pytest.mark.skipif(not chromium_ready(), reason=CHROMIUM_REASON)
def test_in_a_browser_no_planted_script_runs(served_root: Path, http_base: str, tmp_path: Path) -> None:
    """Chromium opens each hostile page: the planted script never runs, even where a page *is* served
    as HTML (a forged report.html written over reprobot's own), while reprobot's own report script
    does run there (its controls work)."""
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = chromium_path()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--user-data-dir={tmp_path / 'chrome'}"):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(chromedriver_path()))
    try:
        driver.get(f"{http_base}/results/{FOLDER}/report.html")
        driver.find_element("id", "expand-all").click()  # reprobot's own script handles it
        assert driver.execute_script(
            "var d = document.querySelectorAll('details.leaf');"
            "return d.length > 0 && Array.prototype.every.call(d, function (x) { return x.open; })"
        )
        for rel in ("-executed/report.html", "-executed/attempts/1/report.html", "/submission/evil.html",
                    "-executed/submission/fake.png", "-executed/submission/figure.svg"):  # fmt: skip
            driver.get(f"{http_base}/results/{FOLDER}{rel}")
            assert driver.title != "PWNED", rel
        (served_root / FOLDER / "report.html").write_text(EVIL, encoding="utf-8")  # forged in place
        driver.get(f"{http_base}/results/{FOLDER}/report.html")
        assert driver.title == "safe"  # served as HTML, but its script is not reprobot's: blocked
    finally:
        driver.quit()
