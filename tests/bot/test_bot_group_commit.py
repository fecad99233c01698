"""Concurrent deliveries share commits but stay exact: every delivery is stored once, a redelivery
(even within the same group) is a duplicate, one failing write spoils no other write of its group,
and each is readable from another connection as soon as its call returns (committed, not pending)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from bot.intake.actions import CancelPR
from bot.jobs.queue import JobQueue


def test_concurrent_deliveries_are_each_committed_once(tmp_path: Path) -> None:
    queue = JobQueue(tmp_path / "q.sqlite3")
    errors: list[str] = []

    def sender(n: int) -> None:
        other = sqlite3.connect(tmp_path / "q.sqlite3")
        for i in range(25):
            delivery = f"d{(n * 25 + i) % 150}"  # a third are redeliveries, some concurrent
            result = queue.record_delivery(delivery, "ping", None, ())
            row = other.execute("SELECT 1 FROM deliveries WHERE delivery_id = ?", (delivery,)).fetchone()
            if row is None:
                errors.append(f"{delivery} not visible after {result}")
        other.close()

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(queue.deliveries()) == 150


def test_one_failing_write_spoils_no_other(tmp_path: Path) -> None:
    queue = JobQueue(tmp_path / "q.sqlite3")
    results: dict[str, object] = {}

    def send(name: str, pr: int) -> None:
        try:
            results[name] = queue.record_delivery(name, "pull_request", "closed", (CancelPR("o/r", pr, "x"),))
        except OverflowError as exc:
            results[name] = exc

    threads = [threading.Thread(target=send, args=(f"d{i}", 2**70 if i == 3 else i)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert isinstance(results["d3"], OverflowError)
    assert {d.delivery_id for d in queue.deliveries()} == {f"d{i}" for i in range(8) if i != 3}
