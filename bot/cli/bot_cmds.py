"""``reprobot serve``, ``reprobot worker`` and ``reprobot jobs``: the GitHub App's processes."""

from __future__ import annotations

import logging
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import click

from bot.cli.common import app_settings, echo_json
from bot.errors import BotError, ConfigError
from bot.jobs.queue import JobQueue
from bot.jobs.records import Job
from bot.report.formatting import usd
from bot.settings import Settings, queue_path


def _queue(settings: Settings) -> JobQueue:
    try:
        return JobQueue(queue_path(settings), lease_s=settings.bot.lease_s)
    except (sqlite3.Error, OSError) as exc:  # unwritable folder, not a database: fatal, one line
        raise ConfigError(f"cannot open the queue {queue_path(settings)}: {exc}") from None


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="TCP port.")
@click.option("--threads", default=8, show_default=True, type=int, help="Request threads.")
@click.option(
    "--results-only", is_flag=True, help="No webhook secret needed: serve result folders only (local forge)."
)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, threads: int, results_only: bool) -> None:
    """Run the webhook app (POST /webhook, GET /healthz) and serve result folders read-only
    (GET /results/..., GET /leaderboard). Needs REPROBOT_WEBHOOK_SECRET only."""
    from bot.server import create_app

    settings: Settings = app_settings(ctx)
    if settings.secrets.webhook_secret is None and not results_only:
        raise ConfigError(
            "REPROBOT_WEBHOOK_SECRET is not set: the webhook cannot verify GitHub's signatures "
            "(--results-only serves the result folders without a webhook)"
        )
    app = create_app(settings, _queue(settings))  # without a secret every delivery is refused (401)
    from waitress import create_server

    try:  # bind first: "listening" is said only once it is true
        server = create_server(app, host=host, port=port, threads=threads, ident="reprobot")
    except OSError as exc:  # the port is in use, or not ours to bind
        raise BotError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    base = f"http://{host}:{port}"
    what = "" if results_only else f"webhook {base}/webhook, "
    click.echo(
        f"reprobot: listening: {what}dashboard {base}/, results {base}/results/, "
        f"leaderboard {base}/leaderboard (queue {queue_path(settings)})",
        err=True,
    )
    server.run()


@click.command("worker")
@click.option("--once", is_flag=True, help="Drain the jobs that can run now, then exit.")
@click.option(
    "--concurrency", type=click.IntRange(1, 64), default=None, help="Jobs at a time (bot.worker_concurrency)."
)
@click.pass_context
def worker(ctx: click.Context, once: bool, concurrency: int | None) -> None:
    """Process queued jobs: check runs, grading, the PR comment."""
    from bot.forge.api import clients_for
    from bot.github.pygithub import github_factory
    from bot.jobs.worker import Worker, build_grader
    from runner.janitor import Reaper

    settings: Settings = app_settings(ctx)
    # reprobot's own loggers speak at INFO; libraries (drain3, urllib3, docker) only when they warn
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    for own in ("reprobot", "runner", "judge", "bot"):
        logging.getLogger(own).setLevel(logging.INFO)
    reaper = Reaper(settings.runner.image).start()  # dead runs' leftovers, at start and every minute
    queue = _queue(settings)  # a fatal misconfiguration: one line, before anything else
    github_for = clients_for(settings, github_factory)
    grader = build_grader(settings)
    caveat = grader.check_judge()  # a missing key fails here; a caveat is said once, loudly, before any job
    if caveat:
        click.secho(
            f"reprobot: WARNING: this worker's judge has a caveat: {caveat}. Its scores are NOT real grades "
            "(configure GRADER_OPENAI_API_KEY/OPENAI_API_KEY or judge.base_url for a model)",
            fg="red",
            bold=True,
            err=True,
        )
    w = Worker(settings, queue, grader, github_for)
    try:
        n = w.run(once=once, concurrency=concurrency)
    finally:
        reaper.stop()
    click.echo(f"reprobot: worker processed {n} job(s)", err=True)


def job_cost(job: Job) -> float | None:
    """The judge's cost of the job's result folder, when it recorded one."""
    from bot.report.costs import folder_cost

    return folder_cost(Path(job.result_dir)) if job.result_dir else None


def _age(ts: float) -> str:
    s = max(0, int(time.time() - ts))
    return f"{s}s" if s < 120 else f"{s // 60}m" if s < 7200 else f"{s // 3600}h"


@click.command("jobs")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable list.")
@click.option("--repo", default=None, help="Only this owner/repo.")
@click.option("--pr", type=int, default=None, help="Only this pull request.")
@click.pass_context
def jobs(ctx: click.Context, as_json: bool, repo: str | None, pr: int | None) -> None:
    """List the queue's jobs."""
    settings: Settings = app_settings(ctx)
    rows = _queue(settings).jobs(repo=repo, pr=pr)
    if as_json:
        echo_json([{**j.to_dict(), "judge_cost_usd": job_cost(j)} for j in rows])
        return
    if not rows:
        click.echo(f"no jobs in {queue_path(settings)}")
        return
    for j in rows:
        when = datetime.fromtimestamp(j.updated_at, UTC).strftime("%H:%M:%S")
        stage = f" ({j.stage})" if j.stage else ""
        click.echo(
            f"{j.id:>5} {j.kind:<7} {j.repo}#{j.pr} {j.head_sha[:7] or '-':<7} {j.mode:<8} "
            f"{j.state}{stage} attempts={j.attempts} cost={usd(job_cost(j))} "
            f"updated {when} ({_age(j.updated_at)} ago)" + (f"  {j.message[:60]}" if j.message else "")
        )


COMMANDS: list[click.Command] = [serve, worker, jobs]
