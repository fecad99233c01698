"""Atomic publishing: the leaderboard's ref (the forge's branch; on GitHub each file's blob SHA)
moves only by compare-and-swap from what was read before the board was built. Concurrent publishes
lose no commit; a publisher whose board was built before a newer result cannot win with it (its
swap fails, it rebuilds from the newest results and swaps again), so the board published last holds
every result; the forge refuses a ref update whose old value is stale."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from bot.forge.api import ForgeAPI
from bot.forge.repo import LocalForge, RefMoved
from bot.github.api import GitHubAPI, PublishConflict
from bot.github.pygithub import github_factory
from bot.jobs.context import JobContext
from bot.jobs.publish import publish_leaderboard
from bot.jobs.queue import JobQueue
from bot.settings import Settings, forge_path, queue_path, results_dir
from tests.bot.conftest import payload
from tests.bot.test_bot_worker import deliver, fake, work
from tests.standins.github_server import GitHubStandIn

SITE = "org/bench-site"


def _first_result(settings: Settings) -> Path:
    fake(settings)
    deliver(settings, "pull_request", payload("pull_request/opened"))
    [job] = work(settings).jobs()
    assert job.result_dir is not None
    return Path(job.result_dir)


def _another_result(settings: Settings, template: Path, n: int) -> None:
    """A further graded submission (another submitter's PR) in the results folder."""
    folder = results_dir(settings) / "Codertocat__Hello-World" / f"pr{100 + n}" / f"job{100 + n}-g0"
    shutil.copytree(template, folder)
    record = json.loads((folder / "submission.json").read_text())
    record.update(submitter=f"agent-{n}", pr_number=100 + n)
    (folder / "submission.json").write_text(json.dumps(record))


def _runs_on_board(text: bytes | str | None) -> int:
    data = json.loads(text or b"{}")
    return sum(int(row["runs"]) for row in data["papers"])


class Paused:
    """Wraps a client: the first ``publish_files`` waits until the test lets it go (a publisher
    that built its board, then stalled before swapping it in)."""

    def __init__(self, inner: GitHubAPI) -> None:
        self.inner, self.built, self.go, self.calls = inner, threading.Event(), threading.Event(), 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def publish_files(self, *args: Any, **kwargs: Any) -> None:
        self.calls += 1
        if self.calls == 1:
            self.built.set()
            assert self.go.wait(30)
        self.inner.publish_files(*args, **kwargs)


def _stale_publisher_cannot_win(settings: Settings, client: GitHubAPI, read_board: Any) -> None:
    template = _first_result(settings)
    queue = JobQueue(queue_path(settings))
    [job] = queue.jobs()
    publish_leaderboard(JobContext(settings, queue, client), job)
    before = _runs_on_board(read_board())
    assert before == 1
    _another_result(settings, template, 1)  # A's board will differ from what the branch holds
    slow = Paused(client)
    stalled = JobContext(settings, queue, slow)  # type: ignore[arg-type]
    a = threading.Thread(target=publish_leaderboard, args=(stalled, job))
    a.start()
    assert slow.built.wait(30)  # A read the branch and built its board: 2 runs
    _another_result(settings, template, 2)
    publish_leaderboard(JobContext(settings, queue, client), job)  # B: the newer board lands
    assert _runs_on_board(read_board()) == 3
    slow.go.set()
    a.join(30)
    assert slow.calls == 2  # A's swap failed, it rebuilt from the newest results and swapped again
    assert _runs_on_board(read_board()) == 3  # A's stale board (2 runs) never won


def test_on_the_forge_a_stale_board_cannot_win(make_settings: Any, github: GitHubStandIn) -> None:
    settings = make_settings(leaderboard={"publish": True, "branch": "leaderboard", "path": "board"})
    forge = LocalForge(forge_path(settings))
    forge.init(["all-in-one"])
    client = ForgeAPI(forge, settings.data_dir / "forge", echo=lambda _: None)

    def board() -> bytes | None:
        head = forge.branch_head("leaderboard")
        if head is None:
            return None
        return subprocess.run(["git", "show", f"{head}:board/leaderboard.json"], cwd=forge.path,
                              capture_output=True, check=True).stdout  # fmt: skip

    _stale_publisher_cannot_win(settings, client, board)


def test_on_github_a_stale_board_cannot_win(make_settings: Any, github: GitHubStandIn) -> None:
    settings = make_settings(leaderboard={"publish": True, "repository": SITE, "branch": "gh-pages"})
    github.contents.add_branch(SITE, "gh-pages")
    client = github_factory(settings)(None, SITE)
    _stale_publisher_cannot_win(
        settings, client, lambda: github.contents.file(SITE, "gh-pages", "leaderboard/leaderboard.json")
    )
    refused = [s for (_, _, op, s) in github.log if op == "repos/create-or-update-file-contents" and s == 409]
    assert refused  # the stand-in (GitHub's rule) refused the stale SHA


def test_concurrent_publishes_on_the_forge_lose_no_commit(make_settings: Any, github: GitHubStandIn) -> None:
    settings = make_settings(leaderboard={"publish": True, "branch": "leaderboard", "path": "board"})
    forge = LocalForge(forge_path(settings))
    forge.init(["all-in-one"])
    template = _first_result(settings)
    queue = JobQueue(queue_path(settings))
    [job] = queue.jobs()
    made: list[str] = []
    lock = threading.Lock()

    class Counting(LocalForge):
        def commit_files(self, *args: Any, **kwargs: Any) -> str | None:
            commit = super().commit_files(*args, **kwargs)
            if commit:
                with lock:
                    made.append(commit)
            return commit

    client = ForgeAPI(Counting(forge.path), settings.data_dir / "forge", echo=lambda _: None)
    start = threading.Barrier(6)

    def publisher(n: int) -> None:
        _another_result(settings, template, n)
        start.wait(30)
        publish_leaderboard(JobContext(settings, queue, client), job)

    threads = [threading.Thread(target=publisher, args=(n,)) for n in range(1, 7)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    head = forge.branch_head("leaderboard")
    history = subprocess.run(["git", "rev-list", "leaderboard"], cwd=forge.path, capture_output=True,
                             text=True, check=True).stdout.split()  # fmt: skip
    assert made and set(made) <= set(history)  # every commit made is on the branch: none lost
    board = subprocess.run(["git", "show", f"{head}:board/leaderboard.json"], cwd=forge.path,
                           capture_output=True, check=True).stdout  # fmt: skip
    assert _runs_on_board(board) == 7  # the last board holds every result


def test_the_forge_refuses_a_stale_old_value(tmp_path: Path) -> None:
    forge = LocalForge(tmp_path / "forge.git")
    forge.init([])
    first = forge.commit_files("board", {"a.txt": b"1"}, "one", expected=None)
    assert first is not None
    with pytest.raises(RefMoved):
        forge.commit_files("board", {"a.txt": b"2"}, "from a stale read", expected=None)
    second = forge.commit_files("board", {"a.txt": b"2"}, "two", expected=first)
    with pytest.raises(RefMoved):
        forge.commit_files("board", {"a.txt": b"3"}, "from the first head again", expected=first)
    assert forge.branch_head("board") == second
    api = ForgeAPI(forge, tmp_path / "state", echo=lambda _: None)
    with pytest.raises(PublishConflict):
        api.publish_files("local/forge", "board", {"a.txt": b"4"}, "m", base=first)
