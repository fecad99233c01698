"""The HTML report, served by ``reprobot serve``'s result routes over real HTTP, works for a reader in
Debian's chromium driven by selenium (chromium-driver): clicking the verdict filter, typing a search,
expanding a leaf shows its cited evidence (quotes not found are flagged), the links (PR, commit,
check run, downloadable log) are there and the log downloads as text, badges show the score's band
(none, partial, full: issue 22 parted them from the check's conclusion), the page never scrolls
sideways at 390 px, and without JavaScript the controls that need it are hidden. Screenshots at
1400 and 390 px are written to $REPROBOT_SCREENSHOTS (or tmp)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from evidence_fixtures import worked_example_result

from bot.report import load_context, write_html_report
from bot.report.serve import results_blueprint
from bot.settings import Settings
from tests.needs import CHROMIUM_REASON, chromedriver_path, chromium_path, chromium_ready

CHROMIUM = chromium_path()
CHROMEDRIVER = chromedriver_path()
pytestmark = [pytest.mark.browser, pytest.mark.skipif(not chromium_ready(), reason=CHROMIUM_REASON)]

from selenium import webdriver  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The worked example's good and weak result folders behind the real result routes."""
    from flask import Flask
    from werkzeug.serving import make_server

    root = tmp_path_factory.mktemp("results")
    for number, kind in ((1, "good"), (2, "weak")):  # result folders as the bot names them
        folder = worked_example_result(root / "org__bench" / "pr3" / f"job{number}-g0", kind)
        write_html_report(folder)
    settings = Settings(data_dir=root.parent, bot={"results_dir": str(root)})
    app = Flask("test")
    app.register_blueprint(results_blueprint(settings))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", root
    server.shutdown()


def _driver(tmp: Path, *, width: int, javascript: bool = True) -> Any:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--disable-background-networking", f"--user-data-dir={tmp}",
                f"--window-size={width},1000"):  # fmt: skip
        options.add_argument(arg)
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    service = webdriver.ChromeService(executable_path=CHROMEDRIVER)
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_window_size(width, 1000)
    return driver


def _shot(driver: Any, name: str, tmp_path: Path, width: int) -> Path:
    """A screenshot of the first 2,400 px of the page at ``width``."""
    folder = Path(os.environ.get("REPROBOT_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    driver.set_window_size(width, 2400)
    assert driver.execute_script("return window.innerWidth") == width
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 10_000
    return path


def _visible_leaves(driver: Any) -> list[Any]:
    return [e for e in driver.find_elements(By.CSS_SELECTOR, "details.leaf") if e.is_displayed()]


def test_desktop_filter_search_expand_and_links(served: tuple[str, Path], tmp_path: Path) -> None:
    base, root = served
    ctx = load_context(root / "org__bench" / "pr3" / "job2-g0")
    driver = _driver(tmp_path / "profile", width=1400)
    try:
        driver.get(f"{base}/results/org__bench/pr3/job2-g0/")  # the stable URL redirects to the report
        assert driver.current_url.endswith("/job2-g0/report.html")
        assert driver.find_element(By.ID, "expand-all").is_displayed()
        total = len(driver.find_elements(By.CSS_SELECTOR, "details.leaf"))
        assert total == ctx.summary.leaves == 29

        Select(driver.find_element(By.ID, "verdict")).select_by_value("fail")  # a real click + choice
        fails = [leaf for leaf in ctx.leaves if leaf.verdict == "fail"]
        assert len(_visible_leaves(driver)) == len(fails)
        assert driver.find_element(By.ID, "status").text == f"{len(fails)} of {total} requirements shown"

        search = driver.find_element(By.ID, "search")
        search.click()
        search.send_keys("hidden layer of 16")
        shown = _visible_leaves(driver)
        assert [e.get_attribute("data-id") for e in shown] == ["tm-11"]

        shown[0].find_element(By.TAG_NAME, "summary").click()  # expand the leaf
        assert shown[0].get_attribute("open") is not None
        cites = shown[0].find_elements(By.CSS_SELECTOR, "li.cite")
        assert cites and all(c.is_displayed() for c in cites)
        flagged = shown[0].find_elements(By.CSS_SELECTOR, "li.not-found .flag")
        assert [f.text for f in flagged] == ["quote not found in the submission"]
        audit = shown[0].find_element(By.CSS_SELECTOR, "details.audit")
        assert audit.get_attribute("open") is None  # the auditor's metadata is folded away
        assert not audit.find_element(By.CSS_SELECTOR, "table").is_displayed()

        search.clear()
        Select(driver.find_element(By.ID, "verdict")).select_by_value("")
        driver.find_element(By.ID, "expand-all").click()
        no_evidence = driver.find_elements(By.CSS_SELECTOR, "details.leaf .no-evidence")
        with_evidence = driver.find_elements(By.CSS_SELECTOR, "details.leaf .evidence-block")
        assert len(no_evidence) + len(with_evidence) == total and no_evidence and with_evidence
        assert all(e.is_displayed() for e in no_evidence)

        anchors = driver.find_elements(By.CSS_SELECTOR, "nav.links a")
        links = {a.get_attribute("data-link"): a for a in anchors}
        assert {"pr", "commit", "check", "log", "leaderboard"} <= set(links)
        assert links["log"].get_attribute("download") is not None
        sha = "0123456789abcdef" * 2 + "01234567"
        assert links["commit"].get_attribute("href") == f"https://github.com/org/bench/commit/{sha}"

        badge = driver.find_element(By.ID, "score-badge")
        assert "fail" in badge.get_attribute("class") or "partial" in badge.get_attribute("class")
        _shot(driver, "report-1400.png", tmp_path, 1400)

        import requests

        log = requests.get(links["log"].get_attribute("href"), timeout=10)
        assert log.status_code == 200 and log.headers["Content-Type"].startswith("text/plain")
        assert "mlp test accuracy" in log.text
    finally:
        driver.quit()


def test_good_submission_badge_shows_its_band(served: tuple[str, Path], tmp_path: Path) -> None:
    base, root = served
    ctx = load_context(root / "org__bench" / "pr3" / "job1-g0")
    assert 0 < ctx.summary.score < 1  # some of the points: the partial band, amber
    driver = _driver(tmp_path / "profile", width=1400)
    try:
        driver.get(f"{base}/results/org__bench/pr3/job1-g0/report.html")
        badge = driver.find_element(By.ID, "score-badge")
        assert badge.get_attribute("class").split() == ["badge", "partial"]
        colour = badge.value_of_css_property("background-color")
        assert colour in ("rgba(154, 103, 0, 1)", "rgb(154, 103, 0)")  # --partial
        root_node = driver.find_element(By.CSS_SELECTOR, "#tree > details.node")
        assert root_node.get_attribute("data-band") == "partial"
        bands = {
            d.get_attribute("data-band"): d.find_element(By.CSS_SELECTOR, "summary .badge")
            for d in driver.find_elements(By.CSS_SELECTOR, "#tree details.node:not(.leaf)")
        }
        assert {"full", "partial"} <= set(bands)  # distinct colours for distinct bands
        colours = {b: e.value_of_css_property("background-color") for b, e in bands.items()}
        assert len(set(colours.values())) == len(colours)
        leaf = driver.find_element(By.CSS_SELECTOR, "#tree details.leaf .badge")
        assert leaf.get_attribute("textContent") in ("pass", "fail")  # a leaf is PaperBench's 0 or 1
    finally:
        driver.quit()


def test_phone_width_never_scrolls_sideways(served: tuple[str, Path], tmp_path: Path) -> None:
    base, _ = served
    driver = _driver(tmp_path / "profile", width=390)
    try:
        driver.get(f"{base}/results/org__bench/pr3/job2-g0/report.html")
        assert driver.execute_script("return window.innerWidth") == 390
        driver.find_element(By.ID, "expand-all").click()
        search = driver.find_element(By.ID, "search")
        search.send_keys("accuracy")
        assert 0 < len(_visible_leaves(driver)) < 29
        overflow = driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the page scrolls sideways by {overflow}px at 390 px"
        _shot(driver, "report-390.png", tmp_path, 390)
    finally:
        driver.quit()


def test_without_javascript_controls_are_hidden(served: tuple[str, Path], tmp_path: Path) -> None:
    base, _ = served
    driver = _driver(tmp_path / "profile", width=1400, javascript=False)
    try:
        driver.get(f"{base}/results/org__bench/pr3/job2-g0/report.html")
        assert not driver.find_element(By.CSS_SELECTOR, ".controls").is_displayed()
        assert not driver.find_element(By.ID, "expand-all").is_displayed()
        assert driver.find_element(By.ID, "noscript").is_displayed()
        section = driver.find_element(By.CSS_SELECTOR, "#tree > details.node > details.node")
        if section.get_attribute("open") is None:  # sections that lost points open by default
            section.find_element(By.TAG_NAME, "summary").click()  # <details> still opens without a script
        leaf = section.find_element(By.CSS_SELECTOR, "details.leaf")
        leaf.find_element(By.TAG_NAME, "summary").click()
        assert leaf.get_attribute("open") is not None
        _shot(driver, "report-nojs.png", tmp_path, 1400)
    finally:
        driver.quit()
