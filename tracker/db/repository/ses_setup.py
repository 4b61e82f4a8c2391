"""What the tracker itself knows about an SES link: the SNS handshake it saw and the events that came through."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.domain import inbox
from tracker.db.models import DeliveryEvent, InboxEvent, SnsSubscription

__all__ = [
    "last_arrivals",
    "recent_subscription_confirmations",
    "sns_subscription",
]


def last_arrivals(session: Session, account_id: int, source_id: int, since: datetime) -> dict[str, datetime]:
    """Event type -> when the newest event of that type arrived through the source, within ``since``.

    Bounded by time so its cost follows recent traffic, not the whole history: the range is
    read through ix_inbox_events_received, then each row's events through their inbox id index.
    """
    rows = session.execute(
        select(DeliveryEvent.type, func.max(InboxEvent.received_at))
        .join(InboxEvent, InboxEvent.id == DeliveryEvent.inbox_event_id)
        .where(InboxEvent.received_at >= since, InboxEvent.source_id == source_id,
               InboxEvent.account_id == account_id, DeliveryEvent.account_id == account_id)
        .group_by(DeliveryEvent.type)
    )
    return {event_type: received_at for event_type, received_at in rows}


def sns_subscription(session: Session, source_id: int, topic_arn: str) -> SnsSubscription | None:
    """What the tracker last did with this topic's subscription handshake (confirmed, unsubscribed)."""
    return session.scalar(select(SnsSubscription).where(SnsSubscription.source_id == source_id,
                                                        SnsSubscription.topic_arn == topic_arn))


def recent_subscription_confirmations(session: Session, source_id: int, since: datetime,
                                      limit: int = 20) -> list[InboxEvent]:
    """The source's SubscriptionConfirmation inbox rows received since ``since``, newest first.

    Any topic's: the body says which. Bounded by time like last_arrivals (SNS forgets a
    pending subscription after three days, so older confirmations explain nothing).
    """
    return list(session.scalars(
        select(InboxEvent)
        .where(InboxEvent.received_at >= since, InboxEvent.source_id == source_id,
               InboxEvent.kind == inbox.SUBSCRIPTION_CONFIRMATION)
        .order_by(InboxEvent.received_at.desc(), InboxEvent.id.desc())
        .limit(limit)
    ))
