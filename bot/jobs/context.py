"""What every step of a job works with: the settings, the queue, the GitHub client of the job's
repository, and the job state machine over that queue (``bot.jobs.lifecycle``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.github.api import GitHubAPI
from bot.jobs.lifecycle import JobStates
from bot.jobs.queue import JobQueue
from bot.jobs.records import Job
from bot.settings import Settings
from bot.steps import reached


def job_states(settings: Settings, queue: JobQueue) -> JobStates:
    """The state machine over ``queue`` with the bot's attempts rule (``bot.max_attempts``,
    ``bot.retry_backoff_s``)."""
    return JobStates(queue, max_attempts=settings.bot.max_attempts, backoff_s=settings.bot.retry_backoff_s)


@dataclass(frozen=True, slots=True)
class JobContext:
    settings: Settings
    queue: JobQueue
    gh: GitHubAPI
    states: JobStates = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "states", job_states(self.settings, self.queue))

    def step(self, name: str, job: Job) -> None:
        reached(name, job.id)
