"""Group commit: concurrent writes of one process share one transaction and one fsync.

Each caller hands in a function of the database connection. The first caller to find no leader
becomes the leader: it runs every write waiting at that moment in one ``BEGIN IMMEDIATE``
transaction (each inside its own savepoint, so one failing write spoils no other), commits once
(``synchronous=FULL``: on disk), then wakes the callers with their results. Nobody returns before
the commit that holds their write, so a webhook still answers only once its delivery is durable.
Under a burst, eight senders cost one fsync instead of eight.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

Write = Callable[[sqlite3.Connection], Any]


@dataclass(eq=False)
class _Pending:
    write: Write
    done: bool = False
    result: Any = None
    error: BaseException | None = None


class GroupCommit:
    def __init__(
        self,
        connection: Callable[[], sqlite3.Connection],
        transaction: Callable[[], AbstractContextManager[sqlite3.Connection]],
    ) -> None:
        self._connection = connection
        self._transaction = transaction
        self._cv = threading.Condition()
        self._pending: list[_Pending] = []
        self._leading = False

    def run(self, write: Write) -> Any:
        """Run ``write`` in a committed transaction (possibly shared); its result, or its error."""
        item = _Pending(write)
        with self._cv:
            self._pending.append(item)
            while not item.done:
                if self._leading:
                    self._cv.wait()
                    continue
                self._leading = True
                batch, self._pending = self._pending, []
                self._cv.release()
                try:
                    self._commit(batch)
                finally:
                    self._cv.acquire()
                    self._leading = False
                    self._cv.notify_all()
        if item.error is not None:
            raise item.error
        return item.result

    def _commit(self, batch: list[_Pending]) -> None:
        try:
            with self._transaction() as db:
                for i, item in enumerate(batch):
                    db.execute(f"SAVEPOINT w{i}")
                    try:
                        item.result = item.write(db)
                    except Exception as exc:  # this write only: the others commit
                        db.execute(f"ROLLBACK TO w{i}")
                        item.error = exc
                    db.execute(f"RELEASE w{i}")
        except BaseException as exc:  # the commit itself failed: nobody's write is durable
            for item in batch:
                if item.error is None:
                    item.error = exc
                    item.result = None
        finally:
            for item in batch:
                item.done = True
