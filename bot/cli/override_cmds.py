"""``reprobot override RESULT_DIR LEAF pass|fail REASON``: an organizer settles an appeal on the
command line, as ``/reprobot override`` does in a pull request."""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli.common import app_settings
from bot.errors import BotError
from bot.settings import Settings, queue_path, results_dir


class NotPosted(BotError):
    """The grade was rescored but GitHub (or the forge) could not be told: infrastructure."""

    exit_code = 3


def _who(folder: Path) -> str:
    """git's ``user.name`` as seen from FOLDER, else the login name."""
    import getpass
    import subprocess

    try:
        done = subprocess.run(
            ["git", "config", "--get", "user.name"], cwd=folder, capture_output=True, text=True, check=False
        )
    except OSError:
        return getpass.getuser()
    return done.stdout.strip()[:100] or getpass.getuser()


def _served_leaderboard(settings: Settings) -> None:
    """The leaderboard ``reprobot serve`` shows, rewritten (a folder no job of the queue owns)."""
    from bot.jobs.publish import TITLE, current_leaderboard
    from bot.report.leaderboard import render_html
    from bot.report.serve import LEADERBOARD_HTML

    root = results_dir(settings)
    if not root.is_dir():
        return
    tmp = root / f".{LEADERBOARD_HTML}.tmp"
    tmp.write_text(render_html(current_leaderboard(settings), title=TITLE), encoding="utf-8")
    tmp.replace(root / LEADERBOARD_HTML)


@click.command("override")
@click.argument("result_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("leaf")
@click.argument("verdict", type=click.Choice(["pass", "fail"], case_sensitive=False))
@click.argument("reason", nargs=-1, required=True)
@click.option("--by", default=None, help="Who settles it (default: git's user.name, else the login name).")
@click.option("--no-post", is_flag=True, help="Rescore the folder only; post nothing to the PR or forge.")
@click.pass_context
def override(
    ctx: click.Context,
    result_dir: Path,
    leaf: str,
    verdict: str,
    reason: tuple[str, ...],
    by: str | None,
    no_post: bool,
) -> None:
    """Override the judge's verdict on LEAF of the grade in RESULT_DIR and rescore it (the judge's
    verdict is kept beside yours, with REASON); its check run, comment and leaderboard follow."""
    from bot.jobs.override_job import job_for_folder, repost, rescore_folder, result_line
    from bot.jobs.queue import JobQueue
    from bot.report.overrides import parse_override

    settings: Settings = app_settings(ctx)
    request = parse_override(" ".join((leaf, verdict, *reason)))  # the PR command's rules, one line each
    who = by or _who(result_dir)
    queue = (
        JobQueue(queue_path(settings), lease_s=settings.bot.lease_s)
        if queue_path(settings).is_file()
        else None
    )
    job = job_for_folder(queue, result_dir) if queue is not None else None
    result = rescore_folder(settings, result_dir, request, who)
    leaves = "1 leaf" if result.overridden == 1 else f"{result.overridden} leaves"
    click.echo(f"{result_line(result, who)} ({leaves} overridden in this grade)")
    click.echo(str(result_dir / "report.html"))
    if job is None or queue is None or no_post or job.outcome is None or not job.outcome.graded:
        _served_leaderboard(settings)
        return
    from bot.forge.api import clients_for
    from bot.github.pygithub import github_factory
    from bot.jobs.context import JobContext

    try:
        gh = clients_for(settings, github_factory)(job.installation_id, job.repo)
        repost(JobContext(settings, queue, gh), queue.get(job.id))
    except BotError as exc:
        raise NotPosted(
            f"rescored, but the check run and comment were not posted again: {exc} "
            "(run the same command again to post)"
        ) from None
    click.echo(f"posted again: {job.repo}#{job.pr} (check run, comment, leaderboard)")


COMMANDS: list[click.Command] = [override]
