"""What waits in the inbox: the sweep's question."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from tracker import inbox
from tracker.models import InboxEvent

__all__ = ["has_due_pending"]


def has_due_pending(session: Session, *, now: datetime, received_before: datetime) -> bool:
    """Whether a pending row received before ``received_before`` is due now (not waiting out a retry delay)."""
    return bool(session.scalar(select(exists().where(
        InboxEvent.state == inbox.PENDING,
        InboxEvent.received_at < received_before,
        InboxEvent.next_attempt_at.is_(None) | (InboxEvent.next_attempt_at <= now),
    ))))
