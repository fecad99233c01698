"""``reprobot serve`` serves result folders read-only: a folder's stable URL leads to its report,
only reprobot's own report.html (beside grade.json) is HTML, a participant's files are plain text or
bytes with nosniff (never HTML, whatever their name), and nothing outside the results folder, no
symlink and no write method is reachable."""

from __future__ import annotations

import os
from pathlib import Path

from evidence_fixtures import worked_example_result

from bot.report import write_html_report
from bot.server import create_app
from bot.settings import Settings


def _client(tmp_path: Path):  # type: ignore[no-untyped-def]
    root = tmp_path / "results"
    folder = worked_example_result(root / "org__bench" / "pr3" / "job1-g0", "weak")
    write_html_report(folder)
    (folder / "submission" / "report.html").write_text("<script>alert(1)</script>", encoding="utf-8")
    (folder / "submission" / "evil.html").write_text("<script>alert(1)</script>", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("secret", encoding="utf-8")
    os.symlink(tmp_path / "secret.txt", folder / "submission" / "link.txt")
    (root / "leaderboard.html").write_text("<h1>board</h1>", encoding="utf-8")
    settings = Settings(data_dir=tmp_path, bot={"results_dir": str(root)})
    return create_app(settings).test_client()


def test_stable_url_report_and_log(tmp_path: Path) -> None:
    client = _client(tmp_path)
    r = client.get("/results/org__bench/pr3/job1-g0/")
    assert r.status_code == 302 and r.headers["Location"].endswith("/job1-g0/report.html")
    r = client.get("/results/org__bench/pr3/job1-g0/report.html")
    assert r.status_code == 200 and r.mimetype == "text/html"
    assert "default-src 'none'" in r.headers["Content-Security-Policy"]
    r = client.get("/results/org__bench/pr3/job1-g0/reproduce.log")
    assert r.status_code == 200 and r.mimetype == "text/plain" and b"mlp test accuracy" in r.data
    assert client.get("/leaderboard").mimetype == "text/html"


def test_participant_files_are_never_html(tmp_path: Path) -> None:
    client = _client(tmp_path)
    for name in ("report.html", "evil.html"):
        r = client.get(f"/results/org__bench/pr3/job1-g0/submission/{name}")
        assert r.status_code == 200 and r.mimetype != "text/html"
        assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_nothing_outside_and_read_only(tmp_path: Path) -> None:
    client = _client(tmp_path)
    assert client.get("/results/../secret.txt").status_code == 404
    assert client.get("/results/org__bench/pr3/job1-g0/submission/link.txt").status_code == 404
    assert client.get("/results/org__bench/pr3/job1-g0/nope.txt").status_code == 404
    assert client.post("/results/org__bench/pr3/job1-g0/report.html").status_code == 405
    assert client.delete("/results/org__bench/pr3/job1-g0/report.html").status_code == 405
