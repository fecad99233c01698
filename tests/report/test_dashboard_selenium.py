"""What people see through ``reprobot serve``, in Debian's chromium driven by selenium, at 1400 and
390 px: the dashboard (``/``) lists every submission with its status, score, paper, submitter and
commit, filters by paper and submitter without JavaScript and links each report; ``/results/``
lists the graded folders; the leaderboard sorts by a clicked column, filters by paper and clicks
through to a report; the report shows the figure and tables the run wrote (the image decoded under
the page's CSP), leads with the failing requirements and marks an overridden leaf. No page scrolls
sideways at 390 px. Screenshots go to $REPROBOT_SCREENSHOTS (or tmp)."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from evidence_fixtures import with_run_outputs, worked_example_result

from bot.intake.actions import JobInfo, NewGrade
from bot.jobs.context import job_states
from bot.jobs.grade_job import run_folder
from bot.jobs.queue import JobQueue
from bot.jobs.records import JobOutcome
from bot.report import load_context, write_html_report
from bot.report.leaderboard import build_leaderboard, render_html
from bot.report.overrides import OverrideRequest, apply_override
from bot.server import create_app
from bot.settings import Settings, queue_path
from tests.needs import CHROMIUM_REASON, chromedriver_path, chromium_ready

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not chromium_ready(), reason=CHROMIUM_REASON)]

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402


def _arrive(driver: Any, part: str) -> None:
    """Wait for a click's navigation (a loaded machine may report the old URL a moment longer)."""
    WebDriverWait(driver, 30).until(lambda d: part in d.current_url)
from test_report_selenium import _driver  # noqa: E402

REPO = "org/bench"
assert chromedriver_path() is not None or not chromium_ready()


def _graded(settings: Settings, q: JobQueue, pr: int, kind: str, who: str, paper: str = "tiny-moons") -> Path:
    info = JobInfo(submitter=who, html_url=f"https://github.com/{REPO}/pull/{pr}")
    sha = hashlib.sha1(str(pr).encode()).hexdigest()
    [jid] = q.apply([NewGrade(REPO, pr, sha, paper, "v1", info=info)])
    folder = run_folder(settings, REPO, pr, jid, 0)
    worked_example_result(
        folder, kind, submitter=who, pr_number=pr, url=f"https://github.com/{REPO}/pull/{pr}"
    )
    if paper != "tiny-moons":
        for name in ("submission.json", "judge_summary.json"):
            data = json.loads((folder / name).read_text())
            data["paper_id"] = paper
            (folder / name).write_text(json.dumps(data))
    if kind == "good":
        with_run_outputs(folder)
    write_html_report(folder, results_root=settings.data_dir / "results")
    ctx = load_context(folder)
    states = job_states(settings, q)
    outcome = JobOutcome("graded", "graded", str(folder), ctx.summary.score, ctx.summary.coverage)
    job = states.reporting(q.get(jid), outcome, str(folder))
    states.done(job, outcome)
    return folder


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Path]]]:
    """A real ``reprobot serve`` app over a queue of five submissions in four states."""
    from werkzeug.serving import make_server

    data = tmp_path_factory.mktemp("data")
    settings = Settings(data_dir=data)
    q = JobQueue(queue_path(settings))
    good = _graded(settings, q, 3, "good", "good-agent")
    weak = _graded(settings, q, 4, "weak", "weak-agent")
    _graded(settings, q, 5, "good", "carol", paper="other-paper")
    leaf = next(x.node.id for x in load_context(weak).leaves if x.verdict == "fail")
    request = OverrideRequest(leaf, "pass", "the judge missed models.py")
    apply_override(weak, request, by="maintainer", at="2026-12-01T10:00:00+00:00")
    write_html_report(weak)
    states = job_states(settings, q)
    [queued] = q.apply([NewGrade(REPO, 6, "6" * 40, "tiny-moons", "v1", info=JobInfo(submitter="dave"))])
    [broken] = q.apply([NewGrade(REPO, 7, "7" * 40, "other-paper", "v1", info=JobInfo(submitter="erin"))])
    job = states.reporting(q.get(broken), JobOutcome("infra_error", "docker daemon unreachable", final=True))
    states.done(job, job.outcome or JobOutcome("infra_error", "x"))
    assert queued
    board = build_leaderboard(data / "results", include_dummy=True)
    (data / "results" / "leaderboard.html").write_text(render_html(board, results_base="results/"))
    app = create_app(settings, q)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", {"good": good, "weak": weak}
    server.shutdown()


def _shot(driver: Any, name: str, tmp_path: Path, width: int) -> Path:
    folder = Path(os.environ.get("REPROBOT_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    driver.set_window_size(width, 1600)
    assert driver.execute_script("return window.innerWidth") == width
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 5_000
    return path


def _sideways(driver: Any) -> int:
    return int(
        driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
    )


def _rows(driver: Any) -> list[Any]:
    return [r for r in driver.find_elements(By.CSS_SELECTOR, "#rows tr.row") if r.is_displayed()]


@pytest.mark.parametrize("width", [1400, 390])
def test_dashboard_lists_filters_and_links(
    site: tuple[str, dict[str, Path]], tmp_path: Path, width: int
) -> None:
    base, _ = site
    driver = _driver(tmp_path / "profile", width=width, javascript=False)  # a plain form: no script
    try:
        driver.get(f"{base}/")
        rows = _rows(driver)
        assert [r.get_attribute("data-status") for r in rows] == [
            "neutral",
            "queued",
            "graded",
            "graded",
            "graded",
        ]
        assert {r.get_attribute("data-paper") for r in rows} == {"tiny-moons", "other-paper"}
        weak = next(r for r in rows if r.get_attribute("data-submitter") == "weak-agent")
        assert "overridden" in weak.text and "%" in weak.text
        assert (
            weak.find_element(By.CSS_SELECTOR, "a.pr").get_attribute("href")
            == f"https://github.com/{REPO}/pull/4"
        )
        assert _sideways(driver) <= 0, f"the dashboard scrolls sideways at {width} px"
        _shot(driver, f"dashboard-{width}.png", tmp_path, width)

        Select(driver.find_element(By.ID, "filter-paper")).select_by_value("tiny-moons")
        Select(driver.find_element(By.ID, "filter-submitter")).select_by_value("good-agent")
        driver.find_element(By.ID, "filter-apply").click()  # a GET form: works without JavaScript
        _arrive(driver, "submitter=good-agent")
        assert "paper=tiny-moons" in driver.current_url and "submitter=good-agent" in driver.current_url
        [row] = _rows(driver)
        assert row.get_attribute("data-submitter") == "good-agent"
        assert driver.find_element(By.ID, "count").get_attribute("data-shown") == "1"
        row.find_element(By.CSS_SELECTOR, "a.report").click()
        _arrive(driver, "/report.html")
        assert driver.find_element(By.ID, "score-badge").text.endswith("%")

        driver.get(f"{base}/results/")
        assert len(_rows(driver)) == 3  # the graded folders on disk
        assert _sideways(driver) <= 0
    finally:
        driver.quit()


@pytest.mark.parametrize("width", [1400, 390])
def test_leaderboard_sorts_filters_and_clicks_through(
    site: tuple[str, dict[str, Path]], tmp_path: Path, width: int
) -> None:
    base, _ = site
    driver = _driver(tmp_path / "profile", width=width)
    try:
        driver.get(f"{base}/leaderboard")
        assert driver.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1"  # its script ran
        table = driver.find_element(By.CSS_SELECTOR, 'table.paper[data-paper="tiny-moons"]')

        def submitters() -> list[str]:
            return [
                r.get_attribute("data-submitter") for r in table.find_elements(By.CSS_SELECTOR, "tbody tr")
            ]

        assert submitters() == ["good-agent", "weak-agent"]  # ranked by mean
        header = table.find_element(By.XPATH, ".//th[button[text()='Submitter']]")
        header.find_element(By.TAG_NAME, "button").click()
        header.find_element(By.TAG_NAME, "button").click()  # a second click: descending
        assert header.get_attribute("aria-sort") == "descending"
        assert submitters() == ["weak-agent", "good-agent"]
        best = table.find_element(By.XPATH, ".//th[button[text()='Best']]")
        best.find_element(By.TAG_NAME, "button").click()  # scores: highest first
        assert best.get_attribute("aria-sort") == "descending" and submitters() == [
            "good-agent",
            "weak-agent",
        ]
        weak_row = table.find_element(By.CSS_SELECTOR, 'tr[data-submitter="weak-agent"]')
        assert "overridden" in weak_row.text and weak_row.get_attribute("data-overridden") == "1"

        Select(driver.find_element(By.ID, "paper-filter")).select_by_value("other-paper")
        boards = driver.find_elements(By.CSS_SELECTOR, "section.board")
        assert [b.get_attribute("data-paper") for b in boards if b.is_displayed()] == ["other-paper"]
        Select(driver.find_element(By.ID, "paper-filter")).select_by_value("tiny-moons")
        assert _sideways(driver) <= 0, f"the leaderboard scrolls sideways at {width} px"
        _shot(driver, f"leaderboard-{width}.png", tmp_path, width)

        table.find_element(
            By.CSS_SELECTOR, 'tr[data-submitter="good-agent"] a.report[data-which="best"]'
        ).click()
        _arrive(driver, "/report.html")
        assert (
            driver.current_url.endswith("/report.html") and "/results/org__bench/pr3/" in driver.current_url
        )
        assert driver.find_element(By.CSS_SELECTOR, "figure.output-figure img").is_displayed()
    finally:
        driver.quit()


@pytest.mark.parametrize("width", [1400, 390])
def test_report_shows_the_runs_figure_and_leads_with_failures(
    site: tuple[str, dict[str, Path]], tmp_path: Path, width: int
) -> None:
    base, folders = site
    good, weak = folders["good"], folders["weak"]
    driver = _driver(tmp_path / "profile", width=width)
    try:
        driver.get(f"{base}/results/org__bench/pr3/{good.name}/report.html")
        figure = driver.find_element(
            By.CSS_SELECTOR, 'figure.output-figure[data-path="results/loss_curve.png"]'
        )
        img = figure.find_element(By.TAG_NAME, "img")
        assert img.get_attribute("src").startswith("data:image/png;base64,")
        assert driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img) == 480
        assert img.size["width"] <= width  # scaled down on a phone
        tables = {
            t.get_attribute("data-path"): t for t in driver.find_elements(By.CSS_SELECTOR, "table.output")
        }
        assert set(tables) == {"results/table.md", "results/metrics.json", "results/loss_curve.csv"}
        assert "MLP (16 tanh units)" in tables["results/table.md"].text
        # what matters first: the failing requirements come before the tree, and link into it
        order = driver.execute_script(
            "return [document.getElementById('failing'), document.getElementById('outputs'),"
            " document.getElementById('tree')].map(e => e.getBoundingClientRect().top)"
        )
        assert order == sorted(order)
        first = driver.find_element(By.CSS_SELECTOR, "#failing-table a")
        target = first.get_attribute("href").split("#", 1)[1]
        first.click()
        assert driver.find_element(By.ID, target).get_attribute("open") is not None
        assert _sideways(driver) <= 0, f"the report scrolls sideways at {width} px"
        driver.execute_script("window.scrollTo(0, 0)")
        _shot(driver, f"report-figure-{width}.png", tmp_path, width)
        driver.get(f"{base}/results/org__bench/pr4/{weak.name}/")  # the stable URL: its report
        banner = driver.find_element(By.ID, "overridden-banner")
        assert "Overridden" in banner.text
        assert driver.find_element(By.CSS_SELECTOR, "#overrides-table td:nth-child(3)").text == "fail"
    finally:
        driver.quit()
