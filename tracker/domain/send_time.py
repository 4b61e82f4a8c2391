"""When a delivery's message was sent: the provider's word first, never after what happened to it."""
from __future__ import annotations

from datetime import datetime


def submitted_at(sent_at: datetime | None, registered_at: datetime | None,
                 first_event_at: datetime | None) -> datetime | None:
    """The send time the compatible APIs show (Infobip sentAt, SendCloud requestTime, ...).

    The provider's own send time (``sent_at``: SES mail.timestamp, Infobip sentAt, a send
    event) when one was stated, else when the application registered the message, else the
    first event's time; and never later than the first event, since nothing happens to an
    email before it is sent. When the tracker first heard of it plays no part. Each input is
    the earliest of its kind, so the result is the same whatever order the facts came in.
    """
    basis = sent_at or registered_at or first_event_at
    if basis is None or first_event_at is None:
        return basis
    return min(basis, first_event_at)
