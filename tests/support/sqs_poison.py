"""SQS message bodies for the poller's fault tests: good ones, and poison of every kind."""
from __future__ import annotations

import json

from tests.support.harness import FIXTURES
from tests.support.sns_signing import notification

BOUNCE = (FIXTURES / "ses/notification/bounce-permanent.json").read_text()


def raw_bounce(message_id: str) -> str:
    """The recorded bounce for another message, as raw message delivery sends it."""
    message = json.loads(BOUNCE)
    message["mail"]["messageId"] = message_id
    return json.dumps(message)


def unreadable() -> dict[str, tuple[str, str]]:
    """Raw bodies (no envelope) that are no SES event at all: name -> (body, why the worker fails it).

    The queue's policy is what authenticates a raw body, so these are stored like any other
    and fail in the worker, kept for replay; only the queue's own size bound refuses one.
    """
    return {
        "not JSON": ("this is not JSON", "not JSON"),
        "nested 20,000 deep": ("[" * 20_000 + "]" * 20_000, "nested deeper"),  # within a 64 KiB bound
        "nested objects": ('{"a":' * 5_000 + "1" + "}" * 5_000, "nested deeper"),
        "a JSON array": (json.dumps([json.loads(BOUNCE)]), "must be a JSON object"),
        "a JSON string": (json.dumps(BOUNCE), "must be a JSON object"),
        "JSON null": ("null", "must be a JSON object"),
        "truncated JSON": (BOUNCE[: len(BOUNCE) // 2], "not JSON"),
    }


def poison(pki) -> dict[str, tuple[str, str]]:
    """Every kind of message that can never be accepted: name -> (body, why it is refused)."""
    forged = pki.sign(notification(BOUNCE))
    forged["Message"] = forged["Message"].replace("Permanent", "Transient")
    bad_version = pki.sign(notification(BOUNCE))
    bad_version["SignatureVersion"] = "3"
    no_message_id = pki.sign(notification(BOUNCE))
    del no_message_id["MessageId"]
    return {
        "forged": (json.dumps(forged), "invalid_signature"),
        "unsigned": (json.dumps(notification(BOUNCE)), "invalid_signature"),
        "signature version 3": (json.dumps(bad_version), "invalid_signature"),
        "topic not allowed": (json.dumps(pki.sign(notification(BOUNCE, topic_arn="arn:aws:sns:us-east-1:1:other"))),
                              "topic_not_allowed"),
        "envelope without MessageId": (json.dumps(no_message_id), "malformed"),
        "envelope of an unknown Type": (json.dumps({**pki.sign(notification(BOUNCE)), "Type": "Nonsense"}),
                                        "malformed"),
        # Dressed as an envelope but without TopicArn: verified as one (and refused), never
        # stored as a raw message that only the queue policy vouches for.
        "half an envelope": (json.dumps({"Type": "Notification", "Message": BOUNCE}), "malformed"),
        # Past a 64 KiB TRACKER_MAX_BODY_BYTES (SQS itself carries up to 256 KiB).
        "larger than the bound": (json.dumps({"eventType": "Bounce", "pad": "x" * 70_000}), "larger than"),
    }
