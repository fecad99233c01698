"""``reprobot forge init|hook|serve``: the local git forge, the embedded default."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from bot.cli.common import app_settings, registry
from bot.errors import BotError
from bot.forge.repo import LocalForge, parse_post_receive
from bot.settings import Settings, forge_path


@click.group("forge")
def forge_group() -> None:
    """A local bare git repository that takes submissions by `git push` (no GitHub needed)."""


def _forge(settings: Settings, path: Path | None) -> LocalForge:
    return LocalForge(path or forge_path(settings))


@forge_group.command("init")
@click.option("--path", type=click.Path(path_type=Path), default=None, help="Bare repository (forge.path).")
@click.pass_context
def forge_init(ctx: click.Context, path: Path | None) -> None:
    """Create the forge with one paper/<id> branch per paper, and its post-receive hook."""
    settings: Settings = app_settings(ctx)
    forge = _forge(settings, path)
    created = forge.init(registry(ctx).ids(), config_path=ctx.find_root().obj.config_path)
    click.echo(f"forge: {forge.url} ({len(created)} paper branches created)")
    click.echo(f"submit with: git push {forge.url} HEAD:refs/heads/submit/<paper-id>/<your-name>")


@forge_group.command("hook")
@click.option("--forge", "path", type=click.Path(path_type=Path), required=True)
@click.pass_context
def forge_hook(ctx: click.Context, path: Path) -> None:
    """post-receive: queue a grade for each pushed submit/<paper>/<name> branch (reads stdin)."""
    from bot.forge.api import forge_grade_action, forge_notice_action
    from bot.intake.routing import paper_notice, rubric_version
    from bot.jobs.queue import JobQueue
    from bot.settings import queue_path

    settings: Settings = app_settings(ctx)
    forge = LocalForge(path)
    reg = registry(ctx)
    queue = JobQueue(queue_path(settings), lease_s=settings.bot.lease_s)
    identity: str | None = None
    if settings.forge.identity_env is not None:  # pushes bound to the pusher's identity
        identity = os.environ.get(settings.forge.identity_env, "").strip() or None
        if identity is None:
            raise BotError(f"no pusher identity (${settings.forge.identity_env}): nothing queued")
    repo = settings.forge.repo_name
    for pushed in parse_post_receive(sys.stdin):
        problem = paper_notice(settings, reg, pushed.paper_id, f"paper/{pushed.paper_id}")
        if problem is not None and problem[2] == "failure":  # an unknown paper: said to the pusher
            click.echo(
                f"reprobot: unknown paper {pushed.paper_id!r}: not queued (`reprobot papers`)", err=True
            )
            continue
        if problem is not None:  # the organizer's to fix (no paper.md): a neutral notice, not a grade
            queue.apply([forge_notice_action(forge, repo, pushed, *problem)], "forge")
            click.echo(f"reprobot: {pushed.branch} @ {pushed.sha[:7]}: {problem[0]}: {problem[1]}", err=True)
            continue
        version = rubric_version(reg, pushed.paper_id)
        action = forge_grade_action(forge, repo, pushed, version, identity)
        ids = queue.apply([action], "forge")
        state = f"queued as job {ids[0]}" if ids else "already queued"
        click.echo(
            f"reprobot: {pushed.branch} @ {pushed.sha[:7]} {state} ({pushed.paper_id}, PR #{action.pr})",
            err=True,
        )


COMMANDS: list[click.Command] = [forge_group]
