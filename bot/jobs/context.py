"""What every job step needs: the settings, the queue and the GitHub client of the job's repository."""

from __future__ import annotations

from dataclasses import dataclass

from bot.github.api import GitHubAPI
from bot.jobs.queue import JobQueue
from bot.jobs.records import Job, JobCancelled
from bot.jobs.steps import reached
from bot.settings import Settings


@dataclass(frozen=True, slots=True)
class JobContext:
    settings: Settings
    queue: JobQueue
    gh: GitHubAPI

    def step(self, name: str, job: Job) -> None:
        reached(name, job.id)

    def still_wanted(self, job_id: int) -> Job:
        """The job as stored now; raises JobCancelled when it was cancelled or superseded meanwhile."""
        job = self.queue.get(job_id)
        if job.cancelled:
            raise JobCancelled()
        return job
