"""The skip audit: every skip is listed with its reason at the end of the run, and a test marked
``docker`` or ``browser`` that skips on a machine that has Docker (with the default image) or
chromium fails the run. A skipped test proves nothing; on CI's machine, where setup installed
both, none of them may skip. Skips whose reason starts with ``tests.needs.HOST_LACKS`` (a host
feature beyond Docker and chromium, such as gVisor or a GPU) are listed, not failed."""

from __future__ import annotations

from collections.abc import Generator

import pytest

from tests.needs import HOST_LACKS, chromium_ready, docker_ready

_SKIPS: list[tuple[str, str, bool]] = []  # (test id, reason, wrongful)


def _reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _wrongful(item: pytest.Item, reason: str) -> bool:
    if reason.startswith(HOST_LACKS):
        return False
    if item.get_closest_marker("docker") is not None and docker_ready():
        return True
    return item.get_closest_marker("browser") is not None and chromium_ready()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = _reason(report)
        _SKIPS.append((item.nodeid, reason, _wrongful(item, reason)))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    tr = terminalreporter
    tr.section("skip audit")
    if not _SKIPS:
        tr.write_line("no test skipped")
        return
    for nodeid, reason, wrongful in _SKIPS:
        tr.write_line(f"{'WRONGFUL ' if wrongful else ''}SKIP {nodeid}: {reason}")
    bad = sum(1 for *_, w in _SKIPS if w)
    tr.write_line(
        f"{len(_SKIPS)} skipped; {bad} of them need Docker or chromium, which this machine has"
        + (": the run fails" if bad else "")
    )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if any(w for *_, w in _SKIPS) and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
