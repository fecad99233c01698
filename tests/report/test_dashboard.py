"""``reprobot serve``'s dashboard over a real queue: ``/`` lists each grade job once with the status a
participant reads (queued, reproducing, judging, graded, neutral, rejected, cancelled, superseded),
newest first, filters by paper, submitter and status (exact values from the query string), escapes
every hostile value, links only what exists (report, log, an https PR), and answers with reprobot's
own strict policy (no script, never framed, ``nosniff``); ``/results/`` lists the graded folders."""

from __future__ import annotations

from pathlib import Path

from evidence_fixtures import worked_example_result
from flask.testing import FlaskClient

from bot.intake.actions import JobInfo, NewGrade
from bot.jobs.context import job_states
from bot.jobs.grade_job import run_folder
from bot.jobs.queue import JobQueue
from bot.jobs.records import JobOutcome
from bot.report import write_html_report
from bot.server import create_app
from bot.settings import Settings, queue_path

HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'


def _app(tmp_path: Path) -> tuple[FlaskClient, JobQueue, Settings]:
    settings = Settings(data_dir=tmp_path / "data")
    q = JobQueue(queue_path(settings))
    states = job_states(settings, q)

    def grade(pr: int, who: str, paper: str = "tiny-moons", url: str | None = None) -> int:
        info = JobInfo(submitter=who, html_url=url)
        [jid] = q.apply([NewGrade("org/bench", pr, f"{pr:x}" * 40, paper, "v1", info=info)])
        return jid

    done = grade(1, "alice", url="https://github.com/org/bench/pull/1")
    folder = run_folder(settings, "org/bench", 1, done, 0)
    worked_example_result(folder, "good", submitter="alice")
    write_html_report(folder)
    outcome = JobOutcome("graded", "graded", str(folder), 0.8, 1.0)
    states.done(states.reporting(q.get(done), outcome, str(folder)), outcome)
    grade(2, "bob")  # queued
    judging = grade(3, HOSTILE, paper="other-paper", url="javascript:alert(3)")
    states.enter_stage(judging, "judging", "grading leaves")
    rejected = grade(4, "carol")
    no = JobOutcome("rejected", "no reproduce.sh at the repository root", final=True)
    states.done(states.reporting(q.get(rejected), no), no)
    broken = grade(5, "dave")
    infra = JobOutcome("infra_error", "docker daemon unreachable", final=True)
    states.done(states.reporting(q.get(broken), infra), infra)
    return create_app(settings, q).test_client(), q, settings


def test_every_submission_with_its_status_newest_first(tmp_path: Path) -> None:
    client, _, _ = _app(tmp_path)
    r = client.get("/")
    assert r.status_code == 200 and r.mimetype == "text/html"
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "frame-ancestors 'none'" in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    html = r.get_data(as_text=True)
    assert "<script" not in html and "<img" not in html and "&lt;script&gt;alert(1)" in html
    assert "javascript:" not in html  # a PR address that is not https is not linked
    statuses = [s.split('"')[0] for s in html.split('class="row" data-status="')[1:]]
    assert statuses == ["neutral", "rejected", "judging", "queued", "graded"]
    assert 'href="/results/org__bench/pr1/job1-g0/report.html"' in html
    assert 'href="/results/org__bench/pr1/job1-g0/reproduce.log"' in html
    assert 'href="https://github.com/org/bench/pull/1"' in html
    assert "80.0%" in html and "no reproduce.sh at the repository root" in html


def test_filters_are_exact_values_from_the_query(tmp_path: Path) -> None:
    client, _, _ = _app(tmp_path)
    html = client.get("/?paper=other-paper").get_data(as_text=True)
    assert html.count('class="row"') == 1 and 'data-shown="1" data-total="5"' in html
    html = client.get("/?submitter=alice&status=graded").get_data(as_text=True)
    assert html.count('class="row"') == 1 and 'data-submitter="alice"' in html
    html = client.get("/?status=queued&paper=tiny-moons").get_data(as_text=True)
    assert html.count('class="row"') == 1 and "Nothing matches" not in html
    html = client.get("/?paper=" + "x" * 5000).get_data(as_text=True)
    assert "Nothing matches these filters" in html and "x" * 201 not in html


def test_results_lists_graded_folders(tmp_path: Path) -> None:
    client, _, _ = _app(tmp_path)
    r = client.get("/results/")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and html.count('class="row"') == 1
    assert 'href="/results/org__bench/pr1/job1-g0/report.html"' in html
    assert client.get("/results/org__bench/pr1/job1-g0/").status_code == 302
