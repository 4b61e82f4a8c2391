"""SES messages for integration tests, made from the recorded fixtures with chosen ids and addresses."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone, UTC

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


def ses_time(moment: datetime) -> str:
    """A time as SES writes it: 2016-10-19T23:20:52.240Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def recent(message: dict, sent_at: datetime) -> dict:
    """``message`` as if sent at ``sent_at`` (its mail.timestamp); its event keeps its delay
    after the send, or a minute when the recording's is not within a day. For the APIs whose
    windows count from the provider's send time (Infobip's 48 hours, SendCloud's days)."""
    def parse(raw):
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    mail_time = parse(message["mail"]["timestamp"])
    message["mail"]["timestamp"] = ses_time(sent_at)
    for section in message.values():
        if isinstance(section, dict) and section is not message["mail"] and "timestamp" in section:
            delay = parse(section["timestamp"]) - mail_time
            section["timestamp"] = ses_time(sent_at + (delay if timedelta() <= delay <= timedelta(days=1)
                                                       else timedelta(minutes=1)))
    return message


def a_moment_ago() -> datetime:
    """A send time a few minutes ago that is also today in UTC+8 (SendCloud's days=1) and
    within Infobip's 48 hours: for events whose send time an API's window must include."""
    now = datetime.now(UTC)
    utc8 = timezone(timedelta(hours=8))
    midnight = datetime.combine(now.astimezone(utc8).date(), datetime.min.time(), utc8).astimezone(UTC)
    return max(now - timedelta(minutes=5), midnight)
