"""What waits in the inbox: the sweep's question, the oldest pending row, the pending rows for operators."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from tracker.db.models import InboxEvent
from tracker.db.repository.inbox import PENDING_ROWS
from tracker.db.repository.operations import EventFilter

__all__ = ["has_due_pending", "oldest_pending_received_at", "pending_events"]


def has_due_pending(session: Session, *, now: datetime, received_before: datetime) -> bool:
    """Whether a pending row received before ``received_before`` is due now (not waiting out a retry delay)."""
    return bool(session.scalar(select(exists().where(
        PENDING_ROWS,
        InboxEvent.received_at < received_before,
        InboxEvent.next_attempt_at.is_(None) | (InboxEvent.next_attempt_at <= now),
    ))))


def oldest_pending_received_at(session: Session) -> datetime | None:
    """When the oldest pending row arrived (None when nothing is pending).

    Oldest by id, which is arrival order: the partial index of the rows not processed answers
    it at once however long the inbox, where MIN(received_at) would scan every pending row.
    """
    return session.scalar(select(InboxEvent.received_at).where(PENDING_ROWS)
                          .order_by(InboxEvent.id).limit(1))


def pending_events(session: Session, where: EventFilter, *, after_id: int = 0, limit: int = 50):
    """A keyset page of pending rows, oldest first, without their bodies: what an operator scans for a stall."""
    statement = where.apply(
        select(InboxEvent.id, InboxEvent.account_id, InboxEvent.provider, InboxEvent.kind, InboxEvent.received_at,
               InboxEvent.attempts, InboxEvent.next_attempt_at, InboxEvent.failure_kind, InboxEvent.error,
               InboxEvent.replay_count)
        .where(PENDING_ROWS, InboxEvent.id > after_id)
    )
    return list(session.execute(statement.order_by(InboxEvent.id).limit(limit)))
