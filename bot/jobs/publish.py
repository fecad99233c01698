"""After each graded job: the leaderboard rebuilt from the results folder, written beside it (what
``reprobot serve`` shows at ``/leaderboard``) and, with ``leaderboard.publish``, committed through
the job's GitHub seam (a GitHub Pages branch or a folder of the organizer's repository; on the local
forge, a branch of the forge). Publishing is best effort: a failure is logged, never the job's.

Atomic: what the branch holds is read first (``publish_base``), the board is built after that from
the newest results, and the commit is a compare-and-swap from that base (a ref update carrying its
old value; on GitHub, each file's blob SHA). When another publisher won meanwhile, the board is
built again and the swap retried, so the board published last is built from the newest results,
and no publish is lost or overwritten by an older one. The board beside the results is rebuilt and
replaced under a file lock for the same reason.
"""

from __future__ import annotations

import fcntl
import logging
import os
import random
import tempfile
import time
from pathlib import Path

from bot.errors import BotError
from bot.github.api import PublishConflict
from bot.jobs.context import JobContext
from bot.jobs.records import Job
from bot.report.leaderboard import Leaderboard, build_leaderboard, render_html, render_markdown
from bot.report.leaderboard_export import to_csv, to_json
from bot.report.serve import LEADERBOARD_HTML
from bot.settings import Settings, results_dir

log = logging.getLogger("reprobot.publish")
TITLE = "reprobot leaderboard"
PUBLISH_TRIES = 8  # compare-and-swap attempts before this publish gives up (a later one catches up)
LOCK_NAME = ".leaderboard.lock"
PUBLISHED = ("index.html", "README.md", "leaderboard.csv", "leaderboard.json")


def leaderboard_files(board: Leaderboard, folder: str = "") -> dict[str, bytes]:
    """The published set: an HTML page (GitHub Pages serves index.html), Markdown, CSV and JSON."""
    prefix = f"{folder.strip('/')}/" if folder.strip("/") else ""
    return {
        f"{prefix}index.html": render_html(board, title=TITLE).encode(),
        f"{prefix}README.md": render_markdown(board, title=TITLE).encode(),
        f"{prefix}leaderboard.csv": to_csv(board).encode(),
        f"{prefix}leaderboard.json": to_json(board).encode(),
    }


def leaderboard_paths(folder: str = "") -> tuple[str, ...]:
    prefix = f"{folder.strip('/')}/" if folder.strip("/") else ""
    return tuple(f"{prefix}{name}" for name in PUBLISHED)


def current_leaderboard(settings: Settings) -> Leaderboard:
    return build_leaderboard(
        results_dir(settings),
        human_users=settings.bot.human_baseline_users,
        include_dummy=settings.leaderboard.include_dummy,
    )


def write_local_board(settings: Settings) -> None:
    """``results/leaderboard.html``: built and swapped in under a lock (a unique temporary file
    per writer), so the last writer's board is built from the newest results."""
    root = results_dir(settings)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / LOCK_NAME, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # served at /leaderboard: each report is at results/<folder>/report.html from there
        html = render_html(current_leaderboard(settings), title=TITLE, results_base="results/")
        fd, tmp = tempfile.mkstemp(prefix=f".{LEADERBOARD_HTML}.", dir=root)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(html)
        Path(tmp).replace(root / LEADERBOARD_HTML)


def publish_leaderboard(ctx: JobContext, job: Job) -> None:
    settings = ctx.settings
    try:
        write_local_board(settings)
        if not settings.leaderboard.publish:
            return
        target = settings.leaderboard.repository or job.repo
        branch, folder = settings.leaderboard.branch, settings.leaderboard.path
        message = f"reprobot: leaderboard after job {job.id} ({job.repo}#{job.pr})"
        for attempt in range(1, PUBLISH_TRIES + 1):
            base = ctx.gh.publish_base(target, branch, leaderboard_paths(folder))  # before building
            files = leaderboard_files(current_leaderboard(settings), folder)
            try:
                ctx.gh.publish_files(target, branch, files, message, base=base)
                return
            except PublishConflict as exc:
                if attempt == PUBLISH_TRIES:
                    raise
                log.info("job %s: leaderboard publish lost a race (%s); rebuilding", job.id, exc)
                time.sleep(random.uniform(0, 0.05 * attempt))
    except (BotError, OSError) as exc:
        log.warning("job %s: leaderboard not published: %s", job.id, exc)
