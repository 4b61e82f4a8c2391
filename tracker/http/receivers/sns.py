"""POST /hooks/sns/<token>: Amazon SNS HTTP(S) deliveries of SES events.

Order matters: find the source, bound and decode the body, verify the signature, check the
topic, and only then store. The 200 is sent after the commit, so SNS never hears success
for an event the tracker could lose; a database outage answers 503 and SNS retries (it
treats every 4xx as delivered, so 4xx is kept for what no retry can fix).
"""
from __future__ import annotations

from flask import Blueprint, Response, request

from tracker.pipeline import intake
from tracker.adapters import metrics
from tracker.http import json_out, request_ids
from tracker.http.errors import ApiError
from tracker.http.receivers import refusals
from tracker.http.receivers.refusals import as_api_error
from tracker.providers.registry import SES
from tracker.providers.ses.envelope import is_envelope
from tracker.services import services

blueprint = Blueprint("sns_receiver", __name__)


@blueprint.post("/hooks/sns/<token>")
def receive(token: str):
    try:
        return refusals.with_current_source(services().sources, token, lambda: _receive(token))
    except ApiError as refused:
        metrics.EVENTS_REFUSED.labels(SES, refused.error).inc()
        raise


def _receive(token: str):
    app = services()
    source = app.sources.get(token)
    if source is None or source.provider != SES:
        raise ApiError(404, "unknown_source", "no SES source has this hook token")

    # Bounded by MAX_CONTENT_LENGTH (413 past it); cached: a stale source re-runs this once.
    body = request.get_data()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "malformed", "body is not UTF-8") from None
    # Raw delivery strips the envelope and with it the signature: nothing would prove the
    # body came from AWS, so a bare message is refused (keep RawMessageDelivery off for
    # HTTPS). The header itself is unsigned, so it never decides alone: a body that is an
    # envelope after all is verified like any other, and stands or falls by its signature.
    if raw_delivery(request.headers.get("x-amz-sns-rawdelivery")) and not is_envelope(text):
        raise ApiError(403, "unsigned", "raw message delivery carries no signature; disable RawMessageDelivery "
                                        "on the subscription so SNS sends the signed envelope")
    try:
        stored = intake.accept_sns(app, source, text, request_id=request_ids.current(), check_source=True)
    except intake.Refused as refusal:
        raise as_api_error(refusal) from None
    return Response(answered(app, stored), 200, mimetype="application/json")


def raw_delivery(header: str | None) -> bool:
    """Whether x-amz-sns-rawdelivery says the body comes without its envelope."""
    return (header or "").strip().lower() == "true"


_RECEIVED = metrics.EVENTS_RECEIVED.labels(SES)  # bound once (the value checks its process id itself)


def answered(app, stored: intake.Stored) -> bytes:
    """The 200's JSON for ``stored``; an event stored just now also wakes a worker and is counted
    (the route and tracker.http.receivers.sns_fast both answer through this)."""
    if not stored.duplicate:
        app.waker.wake()
        _RECEIVED.inc()
    return _answer_body(stored)


def _answer_body(stored: intake.Stored) -> bytes:
    """The 200's JSON for a stored event (or a redelivery), as jsonify writes it, without its per-call lookups."""
    if stored.duplicate:
        return json_body({"status": "duplicate", "message_id": stored.dedupe_key})
    return json_body({"status": "stored", "message_id": stored.dedupe_key, "inbox_id": stored.inbox_id})


def json_body(document: dict) -> bytes:
    """``document`` as Flask's jsonify writes it (compact, one line)."""
    return json_out.dumps(document) + b"\n"
