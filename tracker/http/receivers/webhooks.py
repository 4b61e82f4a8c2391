"""POST /hooks/<provider>/<token>: Infobip, SendCloud, SendGrid, Mailgun and Postmark webhooks.

Authenticate with the provider's own scheme (tracker.providers.<provider>.auth), store the
body exactly as sent and commit, wake a worker, then answer. A body that passed
authentication is always stored, even one the parser cannot read: the sender is told
what was wrong (400; Mailgun 406, the only code that stops its retries; SendCloud 200
with the error in the body, since it retries anything else under a fresh token) and the stored
row fails in the worker with the same reason, kept for replay. A batch with some readable
elements (tracker.providers.common.batch) is answered 200, its unreadable elements named in the
body: the worker applies the readable ones and keeps the row failed for the rest, so a retry of
the whole batch would bring nothing (tracker.providers.registry says more). Refused requests store
nothing. A provider that checks a hook URL before saving it (SendCloud: a GET or an empty
POST must get a 200) is answered without anything being stored.
"""
from __future__ import annotations

import base64
import hashlib
import logging

from flask import Blueprint, jsonify, request

from tracker.pipeline import intake
from tracker.domain import inbox
from tracker.adapters import metrics
from tracker.providers.common.webhook_auth import AuthenticationFailed, WebhookRequest
from tracker.http import request_ids
from tracker.http.errors import ApiError
from tracker.http.receivers import refusals
from tracker.http.receivers.refusals import as_api_error
from tracker.db.models import utcnow
from tracker.providers import registry
from tracker.providers.common.errors import PayloadError
from tracker.services import services

log = logging.getLogger(__name__)

blueprint = Blueprint("webhook_receivers", __name__)


@blueprint.post("/hooks/<provider>/<token>")
def receive(provider: str, token: str):
    try:
        if provider not in registry.WEBHOOK_PROVIDERS:
            return _receive(provider, token)
        return refusals.with_current_source(services().sources, token, lambda: _receive(provider, token))
    except ApiError as refused:
        if provider in registry.WEBHOOK_PROVIDERS:
            metrics.EVENTS_REFUSED.labels(provider, refused.error).inc()
        raise


@blueprint.get("/hooks/<provider>/<token>")
def check_url(provider: str, token: str):
    """A provider's check of a hook URL before it saves it (registry.URL_CHECKERS): 200 when the
    token names a source of that provider, else 404. Reads and stores nothing; HEAD alike."""
    if provider not in registry.URL_CHECKERS:
        raise ApiError(405, "method_not_allowed", "this hook takes POST", {"Allow": "OPTIONS, POST"})
    _source(provider, token)
    return jsonify({"status": "ok"}), 200


def _source(provider: str, token: str):
    """The source ``token`` names, if it is one of ``provider``'s; else a 404."""
    if provider not in registry.WEBHOOK_PROVIDERS:
        raise ApiError(404, "unknown_provider", f"no webhook receiver for {provider!r}")
    source = services().sources.get(token)
    if source is None or source.provider != provider:
        raise ApiError(404, "unknown_source", f"no {provider} source has this hook token")
    return source


def _receive(provider: str, token: str):
    source = _source(provider, token)
    app = services()

    # Bounded by MAX_CONTENT_LENGTH (413 past it); cached: a stale source re-runs this once.
    body = request.get_data()
    if provider in registry.URL_CHECKERS and not body.strip():
        # The URL check's POST: every push has fields (event, timestamp, token, signature), so
        # a body without any is no event. Answered 200, or the provider refuses the URL.
        return jsonify({"status": "checked", "events": 0}), 200
    now = utcnow()
    webhook = WebhookRequest(
        body=body,
        headers={name.lower(): value for name, value in request.headers.items()},
        # What the inbox will keep of it, so the worker parses with what this request did.
        content_type=intake.kept_content_type(request.mimetype or ""),
        now=now,
    )
    try:
        replay_token = registry.authenticator(provider)(webhook, source.secret)
    except AuthenticationFailed as refused:
        error = "unauthenticated" if refused.status == 401 else "forbidden"
        challenge = {"WWW-Authenticate": refused.challenge} if refused.challenge else None
        raise ApiError(refused.status, error, refused.reason, challenge) from None
    except ValueError as misconfigured:
        # The source's own secret is unusable: our fault, not the sender's. 503 keeps the
        # provider retrying until an operator fixes the source, so nothing is lost.
        log.error("%s source %s has an unusable secret: %s", provider, source.id, misconfigured)
        raise ApiError(503, "source_misconfigured", "this source's secret is misconfigured; retry later") from None

    unreadable, partly = 0, None
    try:
        batch = registry.read_webhook(provider, body, webhook.content_type, now)
        events, problem = batch.events, None
        if batch.unreadable:
            # Nothing readable in it: unprocessable as a whole, as any body that can never be processed.
            if batch.readable:
                unreadable, partly = len(batch.unreadable), batch.problem()
            else:
                events, problem = (), batch.problem()
    except PayloadError as error:
        events, problem = (), str(error)
    except Exception:  # noqa: BLE001 - a parser bug: the body is authentic, so it is stored all the same
        log.exception("the %s parser failed on an authenticated body; storing it for the worker", provider)
        events, problem = (), None

    kind, text = _storable_body(body)
    try:
        stored = intake.store(
            app, source, kind=kind, dedupe_key="sha256:" + hashlib.sha256(body).hexdigest(), body=text,
            content_type=webhook.content_type, replay_token=replay_token, request_id=request_ids.current(),
            check_source=True,
        )
    except intake.Refused as refusal:
        raise as_api_error(refusal) from None
    if not stored.duplicate:
        app.waker.wake()
        metrics.EVENTS_RECEIVED.labels(provider).inc()
    answer = {"status": "duplicate" if stored.duplicate else "stored", "events": len(events)}
    if partly is not None:
        answer.update(unreadable=unreadable, detail=f"stored; these elements wait for a fix and a replay: {partly}")
    if problem is not None:
        status = registry.UNPROCESSABLE_STATUS.get(provider, 400)
        detail = f"stored, but it can never be processed: {problem}"
        if status >= 400:
            raise ApiError(status, "unprocessable", detail)
        return jsonify({**answer, "error": "unprocessable", "detail": detail}), status
    return jsonify(answer), 200


def _storable_body(body: bytes) -> tuple[str, str]:
    """(inbox kind, text) keeping ``body`` byte for byte: as text when PostgreSQL's text can hold
    it, else base64 (bytes that are not UTF-8, or a NUL, which text columns refuse)."""
    if b"\x00" not in body:
        try:
            return inbox.WEBHOOK, body.decode("utf-8")
        except UnicodeDecodeError:
            pass
    return inbox.WEBHOOK_BASE64, base64.b64encode(body).decode("ascii")
