"""Result folders served read-only by ``reprobot serve``, at stable URLs, so every comment can link
its full report.

``GET /results/<repo>/pr<N>/job<id>-g<gen>/`` redirects to that folder's ``report.html``;
``GET /results/<path>`` serves one file of the results folder; ``GET /leaderboard`` the leaderboard
the worker last wrote. Only ``report.html`` beside a ``grade.json`` (written by reprobot) and the
leaderboard are served as HTML; everything else, the submission's own files above all, is plain text
or bytes with ``nosniff``, so nothing a participant wrote can run in a reader's browser. No symlink
is followed, nothing outside the results folder is reachable, and only GET/HEAD exist.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path, PurePosixPath

from flask import Blueprint, Flask, Response, abort, redirect, send_file

from bot.results import EXECUTED_DIR, GRADE, REPORT_HTML
from bot.settings import Settings, results_dir

LEADERBOARD_HTML = "leaderboard.html"
TEXT_SUFFIXES = frozenset({".log", ".json", ".jsonl", ".md", ".txt", ".csv", ".py", ".sh", ".yaml", ".yml"})
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"


def served_results_url(settings: Settings) -> str | None:
    """The base URL of ``/results`` on the configured public address of ``reprobot serve``."""
    base = settings.bot.public_url
    return f"{base.rstrip('/')}/results" if base else None


def _resolve(root: Path, rel: str) -> Path | None:
    """``root/rel`` when it is inside ``root`` with no symlink on the way, else None."""
    parts = PurePosixPath(rel).parts
    if any(p in ("..", "") or p.startswith("/") for p in parts):
        return None
    path = root
    for part in parts:
        path = path / part
        if path.is_symlink():
            return None
    try:
        if not path.resolve().is_relative_to(root.resolve()):
            return None
    except OSError:
        return None
    return path if path.exists() else None


def _is_report(root: Path, path: Path) -> bool:
    rel = path.relative_to(root).parts
    return path.name == REPORT_HTML and EXECUTED_DIR not in rel[:-1] and (path.parent / GRADE).is_file()


def _send(path: Path, *, html: bool) -> Response:
    if html:
        response = send_file(path, mimetype="text/html")
        response.headers["Content-Security-Policy"] = REPORT_CSP
    else:
        guessed = mimetypes.guess_type(path.name)[0] or ""
        textual = path.suffix in TEXT_SUFFIXES or guessed.startswith("text/")
        mimetype = "text/plain" if textual else "application/octet-stream"
        response = send_file(path, mimetype=mimetype, as_attachment=not textual)
        response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-cache"
    return response


def results_blueprint(settings: Settings) -> Blueprint:
    root = results_dir(settings)
    bp = Blueprint("results", __name__)

    @bp.get("/results/<path:rel>")
    def result_file(rel: str) -> Response:
        path = _resolve(root, rel)
        if path is None:
            abort(404)
        if path.is_dir():
            if not (path / REPORT_HTML).is_file():
                abort(404)
            return redirect(f"/results/{rel.rstrip('/')}/{REPORT_HTML}", code=302)  # type: ignore[return-value]
        if not path.is_file():
            abort(404)
        return _send(path, html=_is_report(root, path))

    @bp.get("/leaderboard")
    def leaderboard() -> Response:
        path = root / LEADERBOARD_HTML
        if path.is_symlink() or not path.is_file():
            abort(404)
        return _send(path, html=True)

    return bp


def register_results(app: Flask, settings: Settings) -> None:
    """Add the read-only result routes to the webhook app."""
    app.register_blueprint(results_blueprint(settings))
