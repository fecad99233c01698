"""Where reproduction runs.

``local`` (the default): the worker calls the Grader on this machine (reproduce + judge).

``actions``: the worker triggers the organizer's reproduction workflow (``workflow_dispatch`` of
``dispatch.workflow_file`` on ``dispatch.workflow_ref`` in ``dispatch.workflow_repository``: all
three come from the configuration, never from a pull request, so a fork cannot choose what runs).
The workflow (``.github/workflows/reproduce.yml``) runs only ``reprobot reproduce`` on a
``[self-hosted, gpu]`` runner and uploads the executed submission as an artifact; no judge key and
no rubric reach the runner. Its run is named ``reprobot job <id> g<generation>`` so the
``workflow_run`` completed webhook finds the job; the worker then downloads the artifact and judges
on the trusted host (``GradeRequest.reuse_reproduction``).
"""

from __future__ import annotations

from pathlib import Path

from bot.errors import BotError
from bot.github.api import GitHubAPI
from bot.github.workflow_inputs import limit_inputs
from bot.jobs.records import Job
from bot.settings import Settings


def run_label(job: Job) -> str:
    """The ``job`` input; the workflow's run-name is ``reprobot job <this>`` (see routing.RUN_NAME_RE)."""
    return f"{job.id} g{job.generation}"


def workflow_inputs(job: Job) -> dict[str, str]:
    return {
        "repository": job.info.head_repo or job.repo,
        "sha": job.head_sha,
        "paper": str(job.paper or ""),
        "job": run_label(job),
    }


class ActionsDispatcher:
    def __init__(self, settings: Settings) -> None:
        d = settings.dispatch
        self.workflow_file = d.workflow_file
        self.workflow_ref = d.workflow_ref
        self.workflow_repository = d.workflow_repository
        self.artifact_name = d.artifact_name
        self.settings = settings

    def workflow_repo(self, job: Job) -> str:
        return self.workflow_repository or job.repo

    def start(self, gh: GitHubAPI, job: Job) -> None:
        inputs = {**workflow_inputs(job), **limit_inputs(self.settings, job.paper)}  # the organizer's limits
        gh.dispatch_workflow(self.workflow_repo(job), self.workflow_file, self.workflow_ref, inputs)

    def fetch(self, gh: GitHubAPI, job: Job, dest: Path) -> Path:
        if job.external is None:
            raise BotError(f"job {job.id}: no workflow run recorded")
        gh.download_artifact(
            job.external.repo or self.workflow_repo(job), job.external.run_id, self.artifact_name, dest
        )
        return dest


def make_dispatcher(settings: Settings) -> ActionsDispatcher | None:
    """None means local reproduction by the Grader."""
    return ActionsDispatcher(settings) if settings.dispatch.mode == "actions" else None
