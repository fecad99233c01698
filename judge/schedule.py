"""Sending a grade's work items: the first alone, then one of each other family, then the rest.

The first call goes alone so the provider caches the prefix every later call shares; then the first
item of each other family goes out together; then the rest, with at most ``concurrency`` in flight.
Before each item the budget is checked: an item past it is not sent, its leaves are told why.
Results are recorded in order of completion (a kill keeps what was paid for); on an interrupt
nothing new is sent, the calls in flight finish and are recorded, then the interrupt goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from judge.calls import ItemResult
from judge.plan import WorkItem, wave_order


def send_items(
    todo: Sequence[WorkItem[Any]],
    run: Callable[[WorkItem[Any]], ItemResult],
    concurrency: int,
    exhausted: Callable[[], str | None],
    record: Callable[[ItemResult], None],
    not_sent: Callable[[Sequence[WorkItem[Any]], str], None],
) -> None:
    first, second, rest = wave_order(todo)
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="judge")
    inflight: dict[Future[ItemResult], WorkItem[Any]] = {}

    def submit(item: WorkItem[Any]) -> Future[ItemResult] | None:
        reason = exhausted()
        if reason:
            not_sent([item], reason)
            return None
        fut = pool.submit(run, item)
        inflight[fut] = item
        return fut

    def finish(fut: Future[ItemResult]) -> None:
        inflight.pop(fut)
        record(fut.result())

    try:
        for wave in (first, second):  # the second wave is sent together, after the first returns
            pending = {f for f in (submit(item) for item in wave) if f is not None}
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    finish(fut)
        queue = list(reversed(rest))
        active: set[Future[ItemResult]] = set()
        while queue or active:
            while queue and len(active) < concurrency:
                reason = exhausted()
                if reason:
                    not_sent(list(reversed(queue)), reason)
                    queue.clear()
                    break
                sent = submit(queue.pop())
                if sent is not None:
                    active.add(sent)
            if not active:
                break
            done, _ = wait(active, return_when=FIRST_COMPLETED)
            for fut in done:
                active.discard(fut)
                finish(fut)
    except BaseException:
        # Interrupted (Ctrl-C, a failing progress hook, a fatal backend error): send nothing new,
        # let the calls in flight finish and keep their verdicts, then re-raise.
        pool.shutdown(wait=True, cancel_futures=True)
        for fut in list(inflight):
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                record(fut.result())
        raise
    pool.shutdown(wait=True)
