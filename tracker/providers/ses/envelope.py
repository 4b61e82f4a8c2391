"""The SNS HTTP/SQS envelope: decoded and checked for shape, before and apart from its signature."""
from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any
from collections.abc import Mapping

from tracker.providers.common import bounded_json
from tracker.domain import inbox
from tracker.providers.common.timestamps import parse_timestamp

NOTIFICATION = "Notification"
SUBSCRIPTION_CONFIRMATION = "SubscriptionConfirmation"
UNSUBSCRIBE_CONFIRMATION = "UnsubscribeConfirmation"

# What each Type must carry to be an SNS message at all (signature fields are the
# authenticity check's business: their absence is "unsigned", not "malformed").
_REQUIRED = {
    NOTIFICATION: ("MessageId", "TopicArn", "Message", "Timestamp"),
    SUBSCRIPTION_CONFIRMATION: ("MessageId", "TopicArn", "Message", "Timestamp", "SubscribeURL", "Token"),
    UNSUBSCRIBE_CONFIRMATION: ("MessageId", "TopicArn", "Message", "Timestamp", "SubscribeURL", "Token"),
}

# The inbox's ``kind`` for each Type.
KINDS = {
    NOTIFICATION: inbox.NOTIFICATION,
    SUBSCRIPTION_CONFIRMATION: inbox.SUBSCRIPTION_CONFIRMATION,
    UNSUBSCRIBE_CONFIRMATION: inbox.UNSUBSCRIBE_CONFIRMATION,
}


class EnvelopeError(ValueError):
    """The body is not an SNS message."""


@dataclasses.dataclass(frozen=True)
class Envelope:
    type: str
    message_id: str
    topic_arn: str
    message: str
    timestamp: datetime
    subscribe_url: str | None
    token: str | None
    fields: Mapping[str, Any]  # the decoded JSON object, for signature verification

    @property
    def kind(self) -> str:
        return KINDS[self.type]


def is_envelope(body: bytes | str) -> bool:
    """Whether ``body`` decodes as an SNS envelope (says nothing of its signature)."""
    try:
        decode_envelope(body)
    except EnvelopeError:
        return False
    return True


def decode_envelope(body: bytes | str) -> Envelope:
    """The SNS envelope in ``body``; EnvelopeError saying what is wrong if it is none."""
    try:
        fields = bounded_json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise EnvelopeError(f"body is not JSON: {error}") from None
    if not isinstance(fields, dict):
        raise EnvelopeError("body is not a JSON object")
    kind = fields.get("Type")
    if kind is None and ("eventType" in fields or "notificationType" in fields):
        # What SNS posts with raw message delivery on: the SES event with no envelope.
        raise EnvelopeError(
            "no SNS envelope: the body is a bare SES event, as SNS sends it with "
            "RawMessageDelivery on; turn it off so that SNS sends the signed envelope"
        )
    if not isinstance(kind, str) or kind not in _REQUIRED:
        raise EnvelopeError(f"Type must be one of {', '.join(_REQUIRED)}; got {repr(kind)[:80]}")
    missing = [key for key in _REQUIRED[kind] if not isinstance(fields.get(key), str)]
    if missing:
        raise EnvelopeError(f"{kind} lacks string field(s): {', '.join(missing)}")
    try:
        timestamp = parse_timestamp(fields["Timestamp"])
    except ValueError as error:
        raise EnvelopeError(f"Timestamp is not a time: {error}") from None
    return Envelope(
        type=kind,
        message_id=fields["MessageId"],
        topic_arn=fields["TopicArn"],
        message=fields["Message"],
        timestamp=timestamp,
        subscribe_url=fields.get("SubscribeURL"),
        token=fields.get("Token"),
        fields=fields,
    )
