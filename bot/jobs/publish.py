"""After each graded job: the leaderboard rebuilt from the results folder, written beside it (what
``reprobot serve`` shows at ``/leaderboard``) and, with ``leaderboard.publish``, committed through
the job's GitHub seam (a GitHub Pages branch or a folder of the organizer's repository; on the local
forge, a branch of the forge). Publishing is best effort: a failure is logged, never the job's."""

from __future__ import annotations

import logging

from bot.errors import BotError
from bot.jobs.context import JobContext
from bot.jobs.records import Job
from bot.report.leaderboard import Leaderboard, build_leaderboard, render_html, render_markdown
from bot.report.leaderboard_export import to_csv, to_json
from bot.report.serve import LEADERBOARD_HTML
from bot.settings import Settings, results_dir

log = logging.getLogger("reprobot.publish")
TITLE = "reprobot leaderboard"


def leaderboard_files(board: Leaderboard, folder: str = "") -> dict[str, bytes]:
    """The published set: an HTML page (GitHub Pages serves index.html), Markdown, CSV and JSON."""
    prefix = f"{folder.strip('/')}/" if folder.strip("/") else ""
    return {
        f"{prefix}index.html": render_html(board, title=TITLE).encode(),
        f"{prefix}README.md": render_markdown(board, title=TITLE).encode(),
        f"{prefix}leaderboard.csv": to_csv(board).encode(),
        f"{prefix}leaderboard.json": to_json(board).encode(),
    }


def current_leaderboard(settings: Settings) -> Leaderboard:
    return build_leaderboard(
        results_dir(settings),
        human_users=settings.bot.human_baseline_users,
        include_dummy=settings.leaderboard.include_dummy,
    )


def publish_leaderboard(ctx: JobContext, job: Job) -> None:
    settings = ctx.settings
    root = results_dir(settings)
    try:
        board = current_leaderboard(settings)
        root.mkdir(parents=True, exist_ok=True)
        tmp = root / f".{LEADERBOARD_HTML}.tmp"
        # served at /leaderboard: each report is at results/<folder>/report.html from there
        tmp.write_text(render_html(board, title=TITLE, results_base="results/"), encoding="utf-8")
        tmp.replace(root / LEADERBOARD_HTML)
        if not settings.leaderboard.publish:
            return
        target = settings.leaderboard.repository or job.repo
        files = leaderboard_files(board, settings.leaderboard.path)
        message = f"reprobot: leaderboard after job {job.id} ({job.repo}#{job.pr})"
        ctx.gh.publish_files(target, settings.leaderboard.branch, files, message)
    except (BotError, OSError) as exc:
        log.warning("job %s: leaderboard not published: %s", job.id, exc)
