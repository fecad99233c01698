"""The webhook endpoint (Flask): verify, deduplicate, route, store durably, answer.

``POST /webhook``: the body (at most ``bot.max_body_bytes``, else 413) must carry a valid
``X-Hub-Signature-256`` (HMAC-SHA256 of the raw body with the webhook secret, compared in constant
time), else 401 and nothing is stored. The delivery is recorded with its routing in one SQLite
transaction (``synchronous=FULL``) before the answer: 202 for a new delivery, 200 for a
``X-GitHub-Delivery`` seen before. No Docker, judge or GitHub call happens in the request.
A signed payload that is malformed (not JSON, nested too deeply, numbers past 64 bits, a string where
an object belongs, a lone surrogate, an over-long or misshapen name, SHA or ref: every field routing
reads goes through ``bot.intake.fields``) is answered 400 with a one-line reason, before anything is
stored. A ``workflow_run`` that does not count (not the run the bot dispatched) is logged with why.
The delivery is stored through the ``DeliveryStore`` seam (the job queue, ``bot.jobs.queue``);
``bot.server`` puts this endpoint, ``/healthz`` and the result pages together into one app.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Sequence
from typing import Any, Protocol

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from bot.intake import fields
from bot.intake.actions import Action, DeliveryResult
from bot.intake.routing import route
from bot.settings import Settings
from bot.steps import reached
from judge.papers import PaperRegistry

log = logging.getLogger("reprobot.webhook")


class DeliveryStore(Protocol):
    """Where a verified delivery and its routing are recorded, durably, before the answer
    (``bot.jobs.queue.JobQueue``)."""

    def record_delivery(
        self, delivery_id: str, event: str, action: str | None, actions: Sequence[Action], note: str = ""
    ) -> DeliveryResult: ...


def signature(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def _bounded_int(text: str) -> int:
    """JSON integers as GitHub sends them: ids fit in 64 bits; larger ones are a malformed payload."""
    if len(text) > 20:
        raise ValueError(f"number {text[:24]}... is out of range")
    value = int(text)
    if not -(2**63) <= value < 2**63:
        raise ValueError(f"number {text} is out of range")
    return value


def verify_signature(secret: bytes, body: bytes, header: str | None) -> bool:
    if not header or not header.startswith("sha256="):
        return False
    return hmac.compare_digest(signature(secret, body).encode(), header.encode())


def register_webhook(app: Flask, settings: Settings, store: DeliveryStore, registry: PaperRegistry) -> None:
    """``POST /webhook`` on ``app``; each delivery passes the steps 'received' and 'stored'
    (``bot.steps``)."""
    app.config["MAX_CONTENT_LENGTH"] = settings.bot.max_body_bytes
    secret = settings.secrets.webhook_secret

    def step(name: str) -> None:
        reached(name)

    def malformed(delivery: str, reason: str) -> tuple[Response, int]:
        line = " ".join(reason.split())[:300]  # one line, bounded, never a traceback
        log.warning("delivery %s: 400: %s", delivery, line)
        return jsonify(error=line), 400

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_: Exception) -> tuple[Response, int]:
        return jsonify(error=f"payload larger than {settings.bot.max_body_bytes} bytes"), 413

    @app.post("/webhook")
    def webhook() -> tuple[Response, int]:
        if request.content_length is not None and request.content_length > settings.bot.max_body_bytes:
            return too_large(RequestEntityTooLarge())
        body = request.get_data(cache=False)  # raises 413 past MAX_CONTENT_LENGTH when streamed
        if secret is None:
            return jsonify(error="webhook secret not configured (REPROBOT_WEBHOOK_SECRET)"), 401
        if not verify_signature(
            secret.get_secret_value().encode(), body, request.headers.get("X-Hub-Signature-256")
        ):
            return jsonify(error="missing or invalid X-Hub-Signature-256"), 401
        try:
            event = fields.name(request.headers.get("X-GitHub-Event", ""), "X-GitHub-Event")
            delivery = fields.delivery_id(request.headers.get("X-GitHub-Delivery", ""))
        except fields.PayloadError as exc:
            return jsonify(error=f"missing or malformed X-GitHub-Event or X-GitHub-Delivery: {exc}"), 400
        try:
            payload: Any = json.loads(body, parse_int=_bounded_int)
        except RecursionError:
            return malformed(delivery, "body is nested too deeply")
        except ValueError as exc:
            return malformed(delivery, f"body is not JSON: {exc}")
        if not isinstance(payload, dict):
            return malformed(delivery, "body is not a JSON object")
        step("received")
        try:
            routed = route(event, payload, settings, registry)
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            return malformed(delivery, f"malformed {event} payload: {type(exc).__name__}: {exc}")
        action = payload.get("action") if isinstance(payload.get("action"), str) else None
        try:
            result = store.record_delivery(delivery, event, action, routed.actions, routed.note)
        except (OverflowError, UnicodeEncodeError) as exc:  # past routing's checks: still the sender's
            return malformed(delivery, f"malformed {event} payload: {type(exc).__name__}")
        step("stored")
        if event == "workflow_run" and not result.duplicate and not result.job_ids:
            log.warning("delivery %s: %s", delivery, result.outcome[:300])  # a run that did not count
        if result.duplicate:
            return jsonify(status="duplicate", delivery=delivery, outcome=result.outcome), 200
        return jsonify(
            status="accepted", delivery=delivery, outcome=result.outcome, jobs=list(result.job_ids)
        ), 202
