"""POST /hooks/sns/<token>: Amazon SNS HTTP(S) deliveries of SES events.

Order matters: find the source, bound and decode the body, verify the signature, check the
topic, and only then store. The 200 is sent after the commit, so SNS never hears success
for an event the tracker could lose; a database outage answers 503 and SNS retries (it
treats every 4xx as delivered, so 4xx is kept for what no retry can fix).
"""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from tracker import repository
from tracker.authenticity.sns import CertificateUnavailable, SignatureError, verify
from tracker.errors import ApiError
from tracker.providers.sns_envelope import EnvelopeError, decode_envelope
from tracker.services import services

blueprint = Blueprint("sns_receiver", __name__)

PROVIDER = "ses"


@blueprint.post("/hooks/sns/<token>")
def receive(token: str):
    app = services()
    source = app.sources.get(token)
    if source is None or source.provider != PROVIDER:
        raise ApiError(404, "unknown_source", "no SES source has this hook token")

    # Raw delivery strips the envelope and with it the signature: nothing would prove
    # the body came from AWS, so it is refused (keep RawMessageDelivery off for HTTPS).
    if request.headers.get("x-amz-sns-rawdelivery", "").lower() == "true":
        raise ApiError(403, "unsigned", "raw message delivery carries no signature; disable RawMessageDelivery")

    body = request.get_data(cache=False)  # bounded by MAX_CONTENT_LENGTH: 413 past it
    try:
        text = body.decode("utf-8")
        envelope = decode_envelope(text)
    except UnicodeDecodeError:
        raise ApiError(400, "malformed", "body is not UTF-8") from None
    except EnvelopeError as error:
        raise ApiError(400, "malformed", str(error)) from None
    try:
        verify(envelope.fields, app.certificates)
    except SignatureError as error:
        raise ApiError(403, "invalid_signature", str(error)) from None
    except CertificateUnavailable as error:
        raise ApiError(503, "certificate_unavailable", str(error), {"Retry-After": "5"}) from None
    if not source.allows_topic(envelope.topic_arn):
        raise ApiError(403, "topic_not_allowed", f"{envelope.topic_arn} is not allowed for this source")

    with app.db.engine.begin() as connection:
        inbox_id = repository.store_inbox_event(
            connection,
            source_id=source.id,
            account_id=source.account_id,
            provider=PROVIDER,
            kind=envelope.kind,
            dedupe_key=envelope.message_id,
            body=text,
        )
    if inbox_id is None:
        return jsonify({"status": "duplicate", "message_id": envelope.message_id}), 200
    app.waker.wake()
    return jsonify({"status": "stored", "message_id": envelope.message_id, "inbox_id": inbox_id}), 200
