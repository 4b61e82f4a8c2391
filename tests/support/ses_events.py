"""SES messages for integration tests, made from the recorded fixtures with chosen ids and addresses."""
from __future__ import annotations

import json

from tests.support.harness import FIXTURES


def recorded(name: str) -> dict:
    return json.loads((FIXTURES / "ses" / name).read_text())


def for_message(name: str, message_id: str, destination: list[str], **section) -> dict:
    """A recorded SES event re-addressed to ``message_id`` and ``destination``.

    Keyword arguments replace fields of the event's own section (e.g. bounce=...).
    """
    event = recorded(name)
    event["mail"]["messageId"] = message_id
    event["mail"]["destination"] = destination
    for key, value in section.items():
        event[key] = {**event.get(key, {}), **value}
    return event


def bounce(message_id: str, recipient: str, bounce_type: str, feedback_id: str, at: str) -> dict:
    return for_message("event/bounce.json", message_id, [recipient], bounce={
        "bounceType": bounce_type, "bounceSubType": "General", "feedbackId": feedback_id, "timestamp": at,
        "bouncedRecipients": [{"emailAddress": recipient, "action": "failed", "status": "5.1.1",
                               "diagnosticCode": "smtp; 550 5.1.1 no such user"}],
    })
