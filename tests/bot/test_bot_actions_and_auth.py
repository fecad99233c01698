"""GitHub Actions dispatch keeps the judge on the trusted host; GitHub App auth refreshes tokens.

Guards: in ``actions`` mode the worker dispatches the configured workflow on the configured ref of
the configured repository (never anything from the PR), the shipped workflow runs on
``[self-hosted, gpu]`` with no secrets, the ``workflow_run`` completed webhook hands the job to the
judge, which grades the downloaded executed submission; App auth signs a JWT, exchanges it for an
installation token, and gets a new token before the old one expires.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.github.api import GitHubAPI
from bot.github.pygithub import github_factory
from bot.jobs.queue import JobQueue
from bot.jobs.worker import Worker, build_grader
from bot.server import create_app
from bot.settings import Settings, load_settings, queue_path
from tests.bot.conftest import SECRET, headers, payload
from tests.bot.workflow_runs import genuine_run
from tests.standins.github_server import GitHubStandIn

ROOT = Path(__file__).resolve().parents[2]
OPS = "org/reprobot-ops"


def deliver(settings: Settings, event: str, data: dict[str, Any]) -> dict[str, Any]:
    client = create_app(settings, JobQueue(queue_path(settings))).test_client()
    body = json.dumps(data).encode()
    resp = client.post("/webhook", data=body, headers=headers(event, body))
    assert resp.status_code == 202
    return dict(resp.json)


class ArtifactFromDisk:
    """Wraps the real client; only the artifact download (not in the REST subset) is local."""

    def __init__(self, inner: GitHubAPI, downloads: list[tuple[str, int, str]]) -> None:
        self.inner, self.downloads = inner, downloads

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def download_artifact(self, repo: str, run_id: int, name: str, dest: Path) -> Path:
        self.downloads.append((repo, run_id, name))
        (dest / "submission").mkdir(parents=True)
        (dest / "reproduce.log").write_text("ran on a GPU runner\n")
        return dest


def test_actions_mode_dispatches_the_configured_workflow_then_judges_here(
    make_settings: Any, github: GitHubStandIn
) -> None:
    settings = make_settings(dispatch={"mode": "actions", "workflow_repository": OPS, "workflow_ref": "main"})
    queue = JobQueue(queue_path(settings), lease_s=settings.bot.lease_s)
    pr = payload("pull_request/opened")
    pr["pull_request"]["head"]["repo"]["full_name"] = "forker/Hello-World"  # a fork's PR
    deliver(settings, "pull_request", pr)
    downloads: list[tuple[str, int, str]] = []
    real = github_factory(settings)

    def factory(installation: int | None, repo: str) -> GitHubAPI:
        return ArtifactFromDisk(real(installation, repo), downloads)  # type: ignore[return-value]

    worker = Worker(settings, queue, build_grader(settings), factory, poll_s=0.05)
    worker.run(once=True)
    [job] = queue.jobs()
    assert job.state == "dispatched"
    [dispatch] = github.dispatches
    assert (dispatch["repo"], dispatch["workflow"], dispatch["ref"]) == (OPS, "reproduce.yml", "main")
    assert job.dispatch is not None
    assert dispatch["inputs"] == {
        "repository": "forker/Hello-World",
        "sha": job.head_sha,
        "paper": "all-in-one",
        "job": f"{job.id} g0 {job.dispatch.nonce}",  # the run-name echoes the dispatch's nonce
        # the organizer's limits (runner defaults; a paper's config.yaml may override them)
        "timeout": "86400",
        "memory": "16g",
        "cpus": "4",
        "gpus": "auto",
        "network": "policy",  # the default: its own network, egress through the audited proxy
        "artifact": "executed-submission",
    }
    [run] = github.check_runs.values()
    assert run["status"] == "in_progress"

    done = genuine_run(job)
    deliver(settings, "workflow_run", done)
    assert queue.get(job.id).state == "judging"
    worker.run(once=True)
    job = queue.get(job.id)
    assert job.state == "posted"
    assert downloads == [(OPS, done["workflow_run"]["id"], "executed-submission")]
    calls = [
        json.loads(x) for x in (Path(settings.data_dir) / "fake_grader_calls.jsonl").read_text().splitlines()
    ]
    assert len(calls) == 1 and calls[0]["reuse"].endswith("-executed")
    assert list(github.check_runs.values())[0]["status"] == "completed"


def test_failed_workflow_run_is_an_infra_error_not_a_score(make_settings: Any, github: GitHubStandIn) -> None:
    settings = make_settings(
        dispatch={"mode": "actions", "workflow_repository": OPS}, bot={"max_attempts": 1}
    )
    queue = JobQueue(queue_path(settings), lease_s=settings.bot.lease_s)
    deliver(settings, "pull_request", payload("pull_request/opened"))
    worker = Worker(settings, queue, build_grader(settings), github_factory(settings), poll_s=0.05)
    worker.run(once=True)
    done = genuine_run(queue.get(1), conclusion="failure")
    deliver(settings, "workflow_run", done)
    worker.run(once=True)
    assert queue.get(1).state == "infra_error"
    [run] = github.check_runs.values()
    assert run["conclusion"] == "neutral"


def test_shipped_workflow_runs_only_reproduce_on_gpu_runners_without_secrets() -> None:
    text = (ROOT / ".github/workflows/reproduce.yml").read_text()
    wf = yaml.safe_load(text)
    on = wf.get("on", wf.get(True))
    assert set(on) == {"workflow_dispatch"}
    assert set(on["workflow_dispatch"]["inputs"]) == {
        "repository", "sha", "paper", "job", "timeout", "memory", "cpus", "gpus", "network", "artifact"
    }  # fmt: skip
    [job] = wf["jobs"].values()
    assert job["runs-on"] == ["self-hosted", "gpu"]
    assert "secrets." not in text and "OPENAI" not in text and "rubric.json" not in text
    assert re.search(r'reprobot"( "\$\{config\[@\]\}")? reproduce ', text)
    assert not re.search(r'reprobot"[^\n]* judge', text)
    assert wf["run-name"].startswith("reprobot job ")
    assert wf["permissions"] == {"contents": "read"}


def _app_settings(tmp_path: Path, github: GitHubStandIn) -> Settings:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    github.app_public_key = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    github.app_id = 4242
    cfg = tmp_path / "app.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "data_dir": str(tmp_path / "d"),
                "github": {
                    "app_id": 4242,
                    "api_base_url": github.base_url,
                    "seconds_between_requests": 0,
                    "seconds_between_writes": 0,
                },
            }
        )
    )
    return load_settings(cfg, {"REPROBOT_WEBHOOK_SECRET": SECRET, "REPROBOT_GITHUB_APP_PRIVATE_KEY": pem})


def test_github_app_auth_exchanges_a_jwt_for_an_installation_token(
    tmp_path: Path, github: GitHubStandIn
) -> None:
    client = github_factory(_app_settings(tmp_path, github))(None, "Codertocat/Hello-World")
    assert client.get_permission("Codertocat/Hello-World", "someone") == "read"
    client.get_permission("Codertocat/Hello-World", "someone")
    assert len(github.tokens) == 1  # valid for an hour: reused
    assert github.calls("apps/get-repo-installation") == 1


def test_installation_token_is_refreshed_before_it_expires(tmp_path: Path, github: GitHubStandIn) -> None:
    github.token_lifetime_s = 15  # inside PyGithub's refresh margin: every use needs a fresh token
    client = github_factory(_app_settings(tmp_path, github))(1, "Codertocat/Hello-World")
    client.get_permission("Codertocat/Hello-World", "a")
    client.get_permission("Codertocat/Hello-World", "b")
    assert len(github.tokens) == 2


def test_worker_without_github_credentials_is_one_clear_error(tmp_path: Path) -> None:
    from bot.errors import BotError

    with pytest.raises(BotError, match="REPROBOT_GITHUB_TOKEN"):
        github_factory(load_settings(None, {}))
