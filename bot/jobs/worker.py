"""The worker loop: takes jobs from the durable queue under a renewed lease and runs them.

A grade job's steps live in ``bot.jobs.grade_job``; a notice is one completed check run; a command
job carries out a ``/reprobot`` command (``bot.jobs.command_job``). Unexpected failures are
infrastructure trouble, handed to the state machine (``JobStates.after_error``): retried with backoff
up to ``bot.max_attempts``, then reported as neutral.
"""

from __future__ import annotations

import importlib
import logging
import os
import socket
import threading
import time
import uuid
from typing import Any

from bot.errors import BotError
from bot.github.api import CheckRunOutput, GitHubFactory
from bot.grading import Grader
from bot.jobs.check_runs import close_if_cancelled, ensure_check_run
from bot.jobs.command_job import run_command
from bot.jobs.context import JobContext, job_states
from bot.jobs.dispatch import make_dispatcher
from bot.jobs.grade_job import GradeJob
from bot.jobs.liveness import BEAT_S, WorkerBeat, workers_dir, write_beat
from bot.jobs.queue import JobQueue
from bot.jobs.records import Job, JobCancelled
from bot.settings import Settings
from bot.steps import reached
from judge.papers import PaperRegistry

log = logging.getLogger("reprobot.worker")
MAX_BACKOFF_S = 30.0
ONCE_GIVE_UP = 5  # with --once: tries in a row before the worker exits 3


class WorkerTrouble(BotError):
    """The worker could not reach its queue (with ``--once``): an infrastructure failure."""

    exit_code = 3


def build_grader(settings: Settings) -> Grader:
    """``bot.grader: "module:callable"`` (called with the Settings), else ``bot.pipeline.LocalGrader``."""
    spec = settings.bot.grader
    factory: Any
    if spec is None:
        from bot.pipeline import LocalGrader

        factory = LocalGrader
    else:
        module_name, attr = spec.split(":")
        try:
            factory = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise BotError(f"bot.grader: cannot load {spec!r} ({exc})") from None
    grader: Grader = factory(settings)
    return grader


class Worker:
    def __init__(
        self,
        settings: Settings,
        queue: JobQueue,
        grader: Grader,
        github_for: GitHubFactory,
        *,
        owner: str | None = None,
        registry: PaperRegistry | None = None,
        poll_s: float = 1.0,
        beat_s: float = BEAT_S,
    ) -> None:
        self.settings = settings
        self.queue = queue
        self.grader = grader
        self.github_for = github_for
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.registry = registry or PaperRegistry(settings.papers.rubrics_dir, settings.papers.blacklists_dir)
        self.dispatcher = make_dispatcher(settings)
        self.states = job_states(settings, queue)
        self.poll_s = poll_s
        self.beat_s = beat_s
        self._stop = threading.Event()
        self._error = ""
        self._done = 0

    def run(self, *, once: bool = False, concurrency: int | None = None) -> int:
        """Process jobs with bounded concurrency; ``once``: stop when nothing is claimable. Returns count.

        Trouble with the queue itself (a database locked past its busy timeout, a full disk) never
        kills a loop: it is logged, backed off (doubling, at most ``MAX_BACKOFF_S``) and retried,
        and the beat file tells ``/healthz``. With ``once``, trouble that persists for
        ``ONCE_GIVE_UP`` tries in a row raises ``WorkerTrouble`` (the CLI exits 3 with one line).
        """
        n = concurrency or self.settings.bot.worker_concurrency
        done = [0]
        lock = threading.Lock()
        trouble: list[BaseException] = []

        def loop(index: int) -> None:
            failures = 0
            while not self._stop.is_set():
                try:
                    claimed = self.process_one(f"{self.owner}/{index}")
                except Exception as exc:  # the queue itself failed: never die silently
                    failures += 1
                    self._error = f"{type(exc).__name__}: {exc}"[:300]
                    if failures == 1:
                        log.exception("worker loop %s: queue trouble, backing off", index)
                    else:
                        log.error("worker loop %s: still failing (%d): %s", index, failures, self._error)
                    if once and failures >= ONCE_GIVE_UP:
                        with lock:
                            trouble.append(exc)
                        return
                    self._stop.wait(min(self.poll_s * 2**failures, MAX_BACKOFF_S))
                    continue
                if failures:
                    log.info("worker loop %s: queue reachable again", index)
                    failures, self._error = 0, ""
                if claimed:
                    with lock:
                        done[0] += 1
                        self._done = done[0]
                    continue
                if once:
                    return
                self._stop.wait(self.poll_s)

        beat = threading.Thread(target=self._beat_loop, daemon=True)
        beat.start()
        threads = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(n)]
        for t in threads:
            t.start()
        try:
            for t in threads:
                while t.is_alive():
                    t.join(0.2)
        except KeyboardInterrupt:
            self._stop.set()
            raise
        finally:
            self._beat("stopped")
        if trouble:
            raise WorkerTrouble(f"the queue is unavailable: {self._error or trouble[0]}")
        return done[0]

    def _beat(self, state: str | None = None) -> None:
        state = state or ("backing off" if self._error else "serving")
        beat = WorkerBeat(self.owner, os.getpid(), state, time.time(), self._done, self._error)
        try:
            write_beat(workers_dir(self.settings.data_dir), beat)
        except OSError as exc:  # a full disk: /healthz sees the beat go stale
            log.error("worker beat: %s", exc)

    def _beat_loop(self) -> None:
        while not self._stop.is_set():
            self._beat()
            self._stop.wait(self.beat_s)

    def stop(self) -> None:
        self._stop.set()

    def context(self, job: Job) -> JobContext:
        return JobContext(self.settings, self.queue, self.github_for(job.installation_id, job.repo))

    def process_one(self, owner: str | None = None) -> bool:
        owner = owner or self.owner
        if self.dispatcher is not None:
            for jid in self.states.expire_dispatched(self.settings.dispatch.timeout_s):
                log.warning("job %s: the reproduction workflow never reported back", jid)
        job = self.queue.claim(owner)
        if job is None:
            return False
        reached("claimed", job.id)
        beat = _Heartbeat(self.queue, job.id, owner, self.queue.lease_s / 3)
        beat.start()
        try:
            if job.kind == "grade":
                GradeJob(self.context(job), self.grader, self.dispatcher).run(job)
            elif job.kind == "notice":
                self._notice_job(job)
            elif job.kind == "command":
                self._command_job(job)
        except JobCancelled:
            close_if_cancelled(self.context(job), self.queue.get(job.id))
        except Exception as exc:  # infrastructure trouble: retried, never charged to the submitter
            log.warning("job %s: %s", job.id, exc)
            self.states.after_error(self.queue.get(job.id), f"{type(exc).__name__}: {exc}"[:500])
        finally:
            beat.stop()
            self.queue.release(job.id, owner)
        return True

    def _notice_job(self, job: Job) -> None:
        ctx = self.context(job)
        ensure_check_run(
            ctx,
            job,
            status="completed",
            conclusion=job.info.conclusion or "failure",
            output=CheckRunOutput(job.info.title or "reprobot", job.message),
        )
        self.states.notice_posted(job)
        reached("posted", job.id)

    def _command_job(self, job: Job) -> None:
        ctx = self.context(job)
        note = run_command(
            job, ctx.gh, self.queue, self.settings, self.registry, argument=job.info.argument or ""
        )
        self.states.command_done(job, note)
        reached("posted", job.id)


class _Heartbeat:
    def __init__(self, queue: JobQueue, job_id: int, owner: str, every_s: float) -> None:
        self.queue, self.job_id, self.owner, self.every_s = queue, job_id, owner, max(every_s, 0.05)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.queue.heartbeat(self.job_id, self.owner)
            except Exception:  # pragma: no cover - the next beat retries
                log.exception("heartbeat")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
