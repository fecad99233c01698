"""Result folders served read-only by ``reprobot serve``, at stable URLs, so every comment can link
its full report.

``GET /results/<repo>/pr<N>/job<id>-g<gen>/`` redirects to that folder's ``report.html``;
``GET /results/<path>`` serves one file of the results folder; ``GET /leaderboard`` the leaderboard
the worker last wrote. No symlink is followed, nothing outside the results folder is reachable, and
only GET/HEAD exist.

The content-type policy (every byte under a result folder may come from a submission or an Actions
artifact, so nothing there may run in a reader's browser):

- ``text/html`` only for the report reprobot itself rendered: ``report.html`` at the root of a
  result folder (``<repo>/pr<N>/job<id>-g<gen>/``, beside ``grade.json``), with a CSP whose
  ``script-src`` admits only the hash of reprobot's own report script (``bot.report.scripts``: a
  fixed file, never templated; a page that is not ours runs nothing, even served as HTML), and the
  leaderboard, likewise (its own script by hash);
- images the run wrote (png, jpeg, gif, webp) as their image type;
- SVG as ``image/svg+xml`` under ``default-src 'none'; style-src 'unsafe-inline'; sandbox``;
- everything else (``jobN-gG-executed/report.html``, ``attempts/1/report.html``, a submission's
  ``evil.html``) as ``text/plain; charset=utf-8`` when it is text, else as an attachment download;

always with ``X-Content-Type-Options: nosniff``.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from flask import Blueprint, Flask, Response, abort, redirect, send_file

from bot.report import scripts
from bot.results import GRADE, REPORT_HTML
from bot.settings import Settings, results_dir

LEADERBOARD_HTML = "leaderboard.html"
RESULT_FOLDER_RE = re.compile(r"^job[0-9]+-g[0-9]+$")
PR_FOLDER_RE = re.compile(r"^pr[0-9]+$")
TEXT_SUFFIXES = frozenset(
    {".log", ".json", ".jsonl", ".md", ".txt", ".csv", ".tsv", ".py", ".sh", ".yaml", ".yml", ".toml", ".cfg",
     ".ini", ".html", ".htm", ".xml", ".js", ".css", ".tex", ".r", ".jl", ".c", ".h", ".cpp", ".rs", ".go"}
)  # fmt: skip
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
               ".webp": "image/webp"}  # fmt: skip
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
FILE_CSP = "default-src 'none'; sandbox"
TEXT_SNIFF_BYTES = 8192


def served_results_url(settings: Settings) -> str | None:
    """The base URL of ``/results`` on the configured public address of ``reprobot serve``."""
    base = settings.bot.public_url
    return f"{base.rstrip('/')}/results" if base else None


def report_csp() -> str:
    """The served report's policy: reprobot's own report script by hash (``bot.report.scripts``),
    images of this server (the run's figures) and data:, nothing else; never framed."""
    return scripts.page_csp("report", images="'self' data:") + "; frame-ancestors 'none'"


def leaderboard_csp() -> str:
    return scripts.page_csp("leaderboard", images="'self' data:") + "; frame-ancestors 'none'"


def _resolve(root: Path, rel: str) -> Path | None:
    """``root/rel`` when it is inside ``root`` with no symlink on the way, else None."""
    parts = PurePosixPath(rel).parts
    if any(p in ("..", "") or p.startswith("/") for p in parts):
        return None
    path = root
    try:
        for part in parts:
            path = path / part
            if path.is_symlink():
                return None
        if not path.resolve().is_relative_to(root.resolve()):
            return None
        return path if path.exists() else None
    except (OSError, ValueError):  # a name too long, a NUL byte
        return None


def is_reprobot_report(root: Path, path: Path) -> bool:
    """The report reprobot rendered: ``<repo>/pr<N>/job<id>-g<gen>/report.html`` beside grade.json."""
    rel = path.relative_to(root).parts
    return (
        len(rel) == 4
        and rel[3] == REPORT_HTML
        and PR_FOLDER_RE.match(rel[1]) is not None
        and RESULT_FOLDER_RE.match(rel[2]) is not None
        and (path.parent / GRADE).is_file()
        and not (path.parent / GRADE).is_symlink()
    )


def _looks_textual(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(TEXT_SNIFF_BYTES)
    except OSError:
        return False
    if b"\0" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 4  # a character cut at the sniff's end
    return True


def _send_file(path: Path, *, kind: str) -> Response:
    """``kind``: report | leaderboard | image | svg | text | download."""
    suffix = path.suffix.lower()
    if kind == "report":
        response = send_file(path, mimetype="text/html")
        response.headers["Content-Security-Policy"] = report_csp()
    elif kind == "leaderboard":
        response = send_file(path, mimetype="text/html")
        response.headers["Content-Security-Policy"] = leaderboard_csp()
    elif kind == "image":
        response = send_file(path, mimetype=IMAGE_TYPES[suffix])
        response.headers["Content-Security-Policy"] = FILE_CSP
    elif kind == "svg":
        response = send_file(path, mimetype="image/svg+xml")
        response.headers["Content-Security-Policy"] = SVG_CSP
    elif kind == "text":
        response = send_file(path, mimetype="text/plain")  # Flask adds "; charset=utf-8"
        response.headers["Content-Security-Policy"] = FILE_CSP
    else:
        response = send_file(path, mimetype="application/octet-stream", as_attachment=True)
        response.headers["Content-Security-Policy"] = FILE_CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-cache"
    return response


def kind_of(root: Path, path: Path) -> str:
    """How a file of the results folder is served (the policy in the module docstring)."""
    suffix = path.suffix.lower()
    if is_reprobot_report(root, path):
        return "report"
    if suffix in IMAGE_TYPES:
        return "image"
    if suffix == ".svg":
        return "svg"
    if suffix in TEXT_SUFFIXES or _looks_textual(path):
        return "text"
    return "download"


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
        return _send_file(path, kind=kind_of(root, path))

    @bp.get("/leaderboard")
    def leaderboard() -> Response:
        path = root / LEADERBOARD_HTML
        if path.is_symlink() or not path.is_file():
            abort(404)
        return _send_file(path, kind="leaderboard")

    return bp


def register_results(app: Flask, settings: Settings) -> None:
    """Add the read-only result routes to the webhook app."""
    app.register_blueprint(results_blueprint(settings))
