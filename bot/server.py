"""``reprobot serve``: one Flask app from three rooms.

- ``POST /webhook``: the intake (``bot.intake.webhook``): verify, route, record in the job queue;
- ``GET /healthz``: the queue, worker liveness (beat files, ``bot.jobs.liveness``) and disk space,
  503 on trouble;
- ``GET /results/...`` and ``GET /leaderboard``: result folders, read-only (``bot.report.serve``);
- ``GET /`` and ``GET /results/``: the dashboard of submissions (rows from the queue,
  ``bot.jobs.listing``) and of graded result folders (``bot.report.dashboard``).

Every response carries the security headers of ``SECURITY_HEADERS`` (no sniffing, no framing, no
referrer); a response that sets no Content-Security-Policy of its own (JSON, redirects, errors) gets
``DEFAULT_CSP``, which allows nothing.
"""

from __future__ import annotations

import time

from flask import Flask, Response, jsonify

from bot.intake.webhook import register_webhook
from bot.jobs.listing import submission_rows
from bot.jobs.liveness import STALE_AFTER_S, disk_health, read_beats, workers_dir
from bot.jobs.queue import JobQueue
from bot.report.dashboard import register_dashboard
from bot.report.serve import register_results
from bot.settings import Settings, queue_path, results_dir
from judge.papers import PaperRegistry

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


def create_app(settings: Settings, queue: JobQueue | None = None) -> Flask:
    """The app ``reprobot serve`` runs (the queue opened from the settings unless given)."""
    app = Flask("reprobot")
    q = queue or JobQueue(queue_path(settings), lease_s=settings.bot.lease_s)
    registry = PaperRegistry(settings.papers.rubrics_dir, settings.papers.blacklists_dir)
    app.extensions["reprobot_queue"] = q
    register_webhook(app, settings, q, registry)
    has_secret = settings.secrets.webhook_secret is not None

    @app.get("/healthz")
    def healthz() -> tuple[Response, int]:
        return health(settings, q, has_secret)

    register_results(app, settings)  # GET /results/..., GET /leaderboard: read-only
    register_dashboard(app, results_dir(settings), lambda: submission_rows(settings, q))  # GET /, /results/

    @app.after_request
    def security_headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        response.headers.setdefault("Content-Security-Policy", DEFAULT_CSP)
        return response

    return app


def health(settings: Settings, q: JobQueue, has_secret: bool) -> tuple[Response, int]:
    """200 ``ok`` (or ``degraded``: no live worker); 503 ``error`` when the queue cannot be read or
    the disk holding it is (nearly) full. Workers are read from their beat files."""
    now = time.time()
    beats = read_beats(workers_dir(settings.data_dir))
    workers = [b.to_json(now) for b in beats if b.state != "stopped" or now - b.beat_at < STALE_AFTER_S]
    alive = any(b.alive(now) for b in beats)
    disk = disk_health(queue_path(settings).parent, int(settings.bot.min_free_disk_mb * 1024 * 1024))
    problems = [] if disk.ok else [f"disk: {disk.error}"]
    try:
        counts: dict[str, int] | None = q.counts()
    except Exception as exc:  # a locked or broken database
        counts, problems = None, [*problems, f"queue: {type(exc).__name__}: {exc}"]
    status = "error" if problems else "ok" if alive else "degraded"
    return jsonify(
        status=status,
        problems=problems,
        webhook_secret=has_secret,
        jobs=counts,
        worker_alive=alive,
        workers=workers,
        disk={"path": disk.path, "free_bytes": disk.free_bytes, "ok": disk.ok},
    ), (503 if problems else 200)
