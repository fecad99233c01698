"""``workflow_run`` completed payloads built from GitHub's real example: the genuine run of a job the
bot dispatched (every field as GitHub would send it for that run), to be forged by the tests."""

from __future__ import annotations

import json
from typing import Any

from bot.jobs.records import Job
from tests.bot.conftest import FIXTURES


def genuine_run(
    job: Job, *, conclusion: str = "success", actor: str = "reprobot-token-user"
) -> dict[str, Any]:
    """The completed run of ``job``'s dispatch, as GitHub sends it (repository, workflow, ref, actor
    and run-name all those of the dispatch)."""
    assert job.dispatch is not None, "the job was not dispatched"
    data: dict[str, Any] = json.loads((FIXTURES / "workflow_run/completed.payload.json").read_text())
    repo = job.dispatch.repo
    owner, name = repo.split("/")
    run = data["workflow_run"]
    data["repository"].update(full_name=repo, name=name)
    data["repository"]["owner"]["login"] = owner
    for key in ("repository", "head_repository"):
        run[key].update(full_name=repo, name=name)
        run[key]["owner"]["login"] = owner
    run.update(
        event="workflow_dispatch",
        path=job.dispatch.workflow,
        head_branch=job.dispatch.ref,
        display_title=f"reprobot job {job.id} g{job.generation} {job.dispatch.nonce}",
        name="reprobot reproduce",
        conclusion=conclusion,
    )
    for key in ("actor", "triggering_actor"):
        run[key].update(login=actor, type="User")
    data["workflow"]["path"] = job.dispatch.workflow
    return data
