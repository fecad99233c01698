"""``reprobot submit DIR --paper ID``: push a submission and open it for grading, optionally wait."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import click

from bot.cli.common import app_settings, resolve_paper
from bot.results import REPORT_HTML
from bot.settings import Settings
from bot.submit import Result, SubmitError, Submitted, check_name, default_submitter

EXIT = {"graded": 0, "rejected": 1, "infra_error": 3, "cancelled": 1}


def _forge_submit(settings: Settings, folder: Path, paper: str, name: str) -> Submitted:
    from bot.forge.repo import LocalForge
    from bot.settings import forge_path
    from bot.submit import push_folder

    forge = LocalForge(forge_path(settings))
    if not forge.exists():
        raise SubmitError(f"no local forge at {forge.path} (create it with `reprobot forge init`)")
    branch = f"submit/{paper}/{name}"
    sha = push_folder(folder, forge.url, f"paper/{paper}", branch, f"{paper}: submission by {name}")
    return Submitted(branch, sha)


def _forge_result(settings: Settings, sha: str) -> Result | None:
    from bot.jobs.queue import JobQueue
    from bot.jobs.records import TERMINAL_STATES
    from bot.settings import queue_path

    jobs = [
        j
        for j in JobQueue(queue_path(settings)).jobs(repo=settings.forge.repo_name, kind="grade")
        if j.head_sha == sha
    ]
    if not jobs:
        raise SubmitError(f"{sha[:7]} was not queued (see the push's messages: unknown paper?)")
    job = jobs[-1]
    if job.state not in TERMINAL_STATES:
        return None
    outcome = job.outcome
    if job.state in ("cancelled", "superseded") or outcome is None:
        return Result("cancelled", None, job.message or job.state)
    report = Path(job.result_dir) / REPORT_HTML if job.result_dir else None
    return Result(outcome.status, outcome.score, outcome.message, str(report) if report else "")


def _github_submit(settings: Settings, folder: Path, paper: str, name: str, repo: str, remote: str | None):  # type: ignore[no-untyped-def]
    from github import Auth, Github

    from bot.submit import basic_auth, open_pull, push_folder, web_url

    token = settings.secrets.github_token
    if token is None:
        raise SubmitError("submitting to GitHub needs a token: set REPROBOT_GITHUB_TOKEN (or GITHUB_TOKEN)")
    secret = token.get_secret_value()
    gh = Github(auth=Auth.Token(secret), base_url=settings.github.api_base_url.rstrip("/"), lazy=True)
    branch = f"reprobot/{paper}/{name}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
    url = remote or f"{web_url(settings.github.api_base_url)}/{repo}.git"
    auth = basic_auth(secret) if url.startswith("https://") else None
    base = settings.bot.branch_pattern.replace("<paper-id>", paper)
    sha = push_folder(folder, url, base, branch, f"{paper}: submission by {name}", auth=auth)
    body = f"Submitted with `reprobot submit` by {name} for paper `{paper}`."
    number, html_url = open_pull(gh, repo, base, branch, f"{paper}: submission by {name}", body)
    return Submitted(branch, sha, html_url, number), gh


@click.command("submit")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--paper", required=True, help="Paper id (the pull request targets paper/<id>).")
@click.option("--name", default=None, help="Submitter name in the branch (default: your user name).")
@click.option(
    "--github",
    "repo",
    default=None,
    metavar="OWNER/REPO",
    help="Submit to this GitHub repository (token: REPROBOT_GITHUB_TOKEN); default: the local forge.",
)
@click.option("--remote", default=None, help="Git URL to push to (default: the repository's https URL).")
@click.option("--wait", is_flag=True, help="Wait for the grade and print the score (last line).")
@click.option("--work", is_flag=True, help="Local forge: grade it now in this process (implies --wait).")
@click.option(
    "--timeout", "timeout_s", type=float, default=3600.0, show_default=True, help="Seconds to wait."
)
@click.pass_context
def submit(
    ctx: click.Context,
    folder: Path,
    paper: str,
    name: str | None,
    repo: str | None,
    remote: str | None,
    wait: bool,
    work: bool,
    timeout_s: float,
) -> None:
    """Push FOLDER (reproduce.sh at its root) as a submission for paper ID and open it for grading.

    Exit 0 when submitted (with --wait: when graded; the last line is the score), 1 when rejected or
    not graded in time, 3 on an infrastructure failure.
    """
    from bot.submit import check_run_result, wait_for

    settings: Settings = app_settings(ctx)
    resolve_paper(ctx, paper)  # an unknown id is one line listing the known ones, before any push
    who = check_name(name or default_submitter(folder))
    if repo is not None:
        if work:
            raise click.UsageError("--work grades on the local forge; with --github the bot grades it")
        submitted, gh = _github_submit(settings, folder, paper, who, repo, remote)
        click.echo(f"submitted {submitted.sha[:12]} as {submitted.branch}: {submitted.pr_url}")

        def poll() -> Result | None:
            return check_run_result(gh, repo, submitted.sha, settings.bot.check_name)
    else:
        submitted = _forge_submit(settings, folder, paper, who)
        click.echo(f"submitted {submitted.sha[:12]} as {submitted.branch} (local forge)")
        if work:
            _work_once(settings)

        def poll() -> Result | None:
            return _forge_result(settings, submitted.sha)

        if wait and not work:
            poll = _needs_a_worker(settings, poll)

    if not (wait or work):
        poll() if repo is None else None  # on the forge: fail now if the push did not queue it
        return
    result = wait_for(poll, timeout_s)
    click.echo(f"{result.state}: {result.title}")
    if result.details:
        click.echo(f"report: {result.details}")
    if result.score is not None:
        click.echo(repr(result.score))
    ctx.exit(EXIT.get(result.state, 1))


NO_WORKER_GRACE_S = 30.0


def _needs_a_worker(settings: Settings, poll: Callable[[], Result | None]) -> Callable[[], Result | None]:
    """Waiting on the forge with no live worker says so at once, and gives up after a short grace
    instead of waiting out the whole timeout in silence."""
    from bot.jobs.liveness import now, read_beats, workers_dir

    def alive() -> bool:
        t = now()
        return any(b.alive(t) for b in read_beats(workers_dir(settings.data_dir)))

    started = time.monotonic()
    warned = False

    def guarded() -> Result | None:
        nonlocal warned
        result = poll()
        if result is not None or alive():
            return result
        if not warned:
            click.echo(
                "reprobot: no worker is running for this queue: start one with `reprobot worker` "
                "(same --config), or submit with --work",
                err=True,
            )
            warned = True
        if time.monotonic() - started > NO_WORKER_GRACE_S:
            raise SubmitError(
                f"no worker picked it up within {NO_WORKER_GRACE_S:.0f} s; it stays queued: start "
                "`reprobot worker` (same --config) and it will be graded, or submit with --work"
            )
        return None

    return guarded


def _work_once(settings: Settings) -> None:
    from bot.forge.api import clients_for
    from bot.github.pygithub import github_factory
    from bot.jobs.queue import JobQueue
    from bot.jobs.worker import Worker, build_grader
    from bot.settings import queue_path

    queue = JobQueue(queue_path(settings), lease_s=settings.bot.lease_s)
    Worker(settings, queue, build_grader(settings), clients_for(settings, github_factory)).run(once=True)


COMMANDS: list[click.Command] = [submit]
