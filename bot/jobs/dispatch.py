"""Where reproduction runs.

``local`` (the default): the worker calls the Grader on this machine (reproduce + judge).

``actions``: the worker triggers the organizer's reproduction workflow (``workflow_dispatch`` of
``dispatch.workflow_file`` on ``dispatch.workflow_ref`` in ``dispatch.workflow_repository``: all
three come from the configuration, never from a pull request, so a fork cannot choose what runs).
The workflow (``.github/workflows/reproduce.yml``) runs only ``reprobot reproduce`` on a
``[self-hosted, gpu]`` runner and uploads the executed submission as an artifact; no judge key and
no rubric reach the runner. Its run is named ``reprobot job <id> g<generation> <nonce>``: the nonce is
random per dispatch and kept, with the repository, workflow and ref, in the job's ``DispatchRecord``
before the dispatch call, so only the run the bot started is judged (a signed ``workflow_run`` from
another repository, a fork's pull request run, a run started by anyone else, or a stale one is
ignored, ``bot.intake.routing.workflow_done`` and ``bot.jobs.lifecycle``). The worker then downloads
that run's artifact from that repository only and judges on the trusted host
(``GradeRequest.reuse_reproduction``).

The organizer's limits for one reproduction on a GPU runner go as ``workflow_dispatch`` inputs: the
bot's ``runner:`` settings give the defaults; a paper's ``config.yaml`` may override them for that
paper under ``runner:`` (``timeout_s``, ``memory``, ``cpus``, ``gpus``, ``network``). The workflow
(``.github/workflows/reproduce.yml``) validates each input again and passes it to ``reprobot
reproduce``; the artifact's name is ``dispatch.artifact_name``, so the worker finds what the runner
uploaded. A bad per-paper value is an organizer's error, reported before dispatching.
"""

from __future__ import annotations

import re
import secrets
import time
from pathlib import Path
from typing import Any

from bot.errors import BotError, ConfigError
from bot.github.api import GitHubAPI
from bot.jobs.records import DispatchRecord, Job
from bot.settings import Settings
from judge.errors import PaperNotFound
from judge.papers import PaperRegistry

PER_PAPER_KEYS = ("timeout_s", "memory", "cpus", "gpus", "network")
RUNNER_READS = ("disk_limit", "egress_allow")  # read by `reprobot reproduce --paper` on the runner itself
CHECKS = {
    "timeout": re.compile(r"^[1-9][0-9]{0,7}$"),
    "memory": re.compile(r"^[1-9][0-9]*[kmgt]?$", re.I),
    "cpus": re.compile(r"^[0-9]+(\.[0-9]+)?$"),
    "gpus": re.compile(r"^(|auto|none|all|[0-9]+|device=[0-9]+(,[0-9]+)*)$"),
    "network": re.compile(r"^(policy|none|bridge)$"),
    "artifact": re.compile(r"^[A-Za-z0-9._-]{1,100}$"),
}


def paper_runner_overrides(settings: Settings, paper_id: str | None) -> dict[str, Any]:
    if not paper_id:
        return {}
    registry = PaperRegistry(settings.papers.rubrics_dir, settings.papers.blacklists_dir)
    try:
        config = registry.get(paper_id).config
    except PaperNotFound:
        return {}
    runner = config.get("runner") if isinstance(config, dict) else None
    if not isinstance(runner, dict):
        return {}
    unknown = sorted(set(runner) - set(PER_PAPER_KEYS) - set(RUNNER_READS))
    if unknown:
        raise ConfigError(f"paper {paper_id}: config.yaml runner: unknown key(s) {', '.join(unknown)}")
    return {k: runner[k] for k in PER_PAPER_KEYS if k in runner}


def limit_inputs(settings: Settings, paper_id: str | None) -> dict[str, str]:
    """timeout, memory, cpus, gpus, network, artifact: the runner defaults and the paper's overrides."""
    r = settings.runner.model_dump()
    r.update(paper_runner_overrides(settings, paper_id))
    inputs = {
        "timeout": str(int(r["timeout_s"])),
        "memory": str(r["memory"]),
        "cpus": f"{float(r['cpus']):g}",
        "gpus": "" if r["gpus"] is None else str(r["gpus"]),
        "network": str(r["network"]),
        "artifact": settings.dispatch.artifact_name,
    }
    for key, value in inputs.items():
        if not CHECKS[key].match(value):
            raise ConfigError(f"paper {paper_id}: runner limit {key}={value!r} is refused by reproduce.yml")
    return inputs


WORKFLOWS_DIR = ".github/workflows/"
NONCE_BYTES = 24  # 32 URL-safe characters: no outsider guesses it


def new_nonce() -> str:
    return secrets.token_urlsafe(NONCE_BYTES)


def run_label(job: Job, nonce: str) -> str:
    """The ``job`` input; the workflow's run-name is ``reprobot job <this>`` (see routing.RUN_NAME_RE)."""
    return f"{job.id} g{job.generation} {nonce}"


def workflow_inputs(job: Job, nonce: str) -> dict[str, str]:
    return {
        "repository": job.info.head_repo or job.repo,
        "sha": job.head_sha,
        "paper": str(job.paper or ""),
        "job": run_label(job, nonce),
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

    def record(self, job: Job) -> DispatchRecord:
        """What is about to be dispatched, with a fresh nonce (recorded before ``start``)."""
        workflow = WORKFLOWS_DIR + self.workflow_file
        return DispatchRecord(self.workflow_repo(job), workflow, self.workflow_ref, new_nonce(), time.time())

    def start(self, gh: GitHubAPI, job: Job, record: DispatchRecord) -> None:
        limits = limit_inputs(self.settings, job.paper)  # the organizer's limits, checked before anything
        inputs = {**workflow_inputs(job, record.nonce), **limits}
        gh.dispatch_workflow(record.repo, self.workflow_file, record.ref, inputs)

    def fetch(self, gh: GitHubAPI, job: Job, dest: Path) -> Path:
        """The artifact of the run that matched the job's dispatch record, from its repository only."""
        if job.external is None or job.dispatch is None:
            raise BotError(f"job {job.id}: no dispatched workflow run recorded")
        gh.download_artifact(job.dispatch.repo, job.external.run_id, self.artifact_name, dest)
        return dest


def make_dispatcher(settings: Settings) -> ActionsDispatcher | None:
    """None means local reproduction by the Grader."""
    return ActionsDispatcher(settings) if settings.dispatch.mode == "actions" else None
