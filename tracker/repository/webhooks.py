"""Outbound webhooks: subscriptions, the outbox of events owed to them, leases and attempts."""
from __future__ import annotations

from datetime import datetime
from typing import Sequence

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from tracker.models import Delivery, WebhookAttempt, WebhookEvent, WebhookSubscription, utcnow
from tracker.repository.dialect import insert_for

__all__ = [
    "active_subscriptions",
    "create_subscription",
    "deliveries_by_ids",
    "delete_subscription",
    "due_webhook_event_ids",
    "insert_webhook_events",
    "lease_webhook_events",
    "list_subscriptions",
    "record_attempt",
    "replay_parked",
    "subscription_of",
    "webhook_attempts",
    "webhook_event",
    "webhook_event_counts",
    "webhook_events_of",
]

PENDING, SENDING, DELIVERED, PARKED = "pending", "sending", "delivered", "parked"
STATES = (PENDING, SENDING, DELIVERED, PARKED)


def create_subscription(session: Session, *, account_id: int, url: str, secret: str,
                        statuses: Sequence[str]) -> WebhookSubscription:
    subscription = WebhookSubscription(account_id=account_id, url=url, secret=secret, statuses=list(statuses),
                                       active=True)
    session.add(subscription)
    session.flush()
    return subscription


def list_subscriptions(session: Session, account_id: int) -> list[WebhookSubscription]:
    return list(session.scalars(select(WebhookSubscription).where(WebhookSubscription.account_id == account_id)
                                .order_by(WebhookSubscription.id)))


def subscription_of(session: Session, account_id: int | None, subscription_id: int) -> WebhookSubscription | None:
    statement = select(WebhookSubscription).where(WebhookSubscription.id == subscription_id)
    if account_id is not None:
        statement = statement.where(WebhookSubscription.account_id == account_id)
    return session.scalar(statement)


def delete_subscription(session: Session, subscription: WebhookSubscription) -> None:
    session.execute(delete(WebhookEvent).where(WebhookEvent.subscription_id == subscription.id))
    session.delete(subscription)
    session.flush()


def active_subscriptions(session: Session, account_ids: Sequence[int]) -> list[WebhookSubscription]:
    return list(session.scalars(select(WebhookSubscription).where(
        WebhookSubscription.account_id.in_(list(account_ids)), WebhookSubscription.active.is_(True))))


def deliveries_by_ids(session: Session, ids: Sequence[int]) -> list[Delivery]:
    return list(session.scalars(select(Delivery).where(Delivery.id.in_(list(ids))).order_by(Delivery.id)))


def insert_webhook_events(session: Session, rows: Sequence[dict]) -> int:
    """Queue events; one already queued for the same (subscription, delivery, sequence) is skipped."""
    if not rows:
        return 0
    table = WebhookEvent.__table__
    statement = (insert_for(session, table)
                 .on_conflict_do_nothing(index_elements=["subscription_id", "delivery_id", "sequence"])
                 .returning(table.c.id))
    return len(session.execute(statement, list(rows)).all())


def due_webhook_event_ids(session: Session, now: datetime, limit: int,
                          subscription_id: int | None = None) -> list[tuple[int, int]]:
    """(event id, subscription id) of events due to be sent, oldest first, locked for this transaction.

    Due: pending and past its retry time, or sending with a lease that expired (the worker
    that held it died).
    """
    statement = (
        select(WebhookEvent.id, WebhookEvent.subscription_id)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookEvent.subscription_id)
        .where(WebhookSubscription.active.is_(True))
        .where(
            ((WebhookEvent.state == PENDING)
             & (WebhookEvent.next_attempt_at.is_(None) | (WebhookEvent.next_attempt_at <= now)))
            | ((WebhookEvent.state == SENDING) & (WebhookEvent.leased_until < now))
        )
        .order_by(WebhookEvent.id)
        .limit(limit)
        .with_for_update(of=WebhookEvent, skip_locked=True)
    )
    if subscription_id is not None:
        statement = statement.where(WebhookEvent.subscription_id == subscription_id)
    return [(row.id, row.subscription_id) for row in session.execute(statement)]


def lease_webhook_events(session: Session, now: datetime, until: datetime, *, per_subscription: int,
                         limit: int, subscription_id: int | None = None) -> list[int]:
    """Lease due events, at most ``per_subscription`` in flight per subscription; the ids leased.

    The bound is what keeps one slow or dead subscriber from taking every sender slot.
    """
    due = due_webhook_event_ids(session, now, limit, subscription_id)
    if not due:
        return []
    # Leasing is serialized per subscription: without this lock two senders leasing at once
    # would each count the other's uncommitted leases as free slots and exceed the bound.
    # Locks are taken in id order, and the count below runs after they are held, so it sees
    # every lease committed before. FOR NO KEY UPDATE: ingestion queueing new events for the
    # subscription (a foreign-key share lock) is never made to wait.
    session.execute(select(WebhookSubscription.id).where(WebhookSubscription.id.in_({sub for _, sub in due}))
                    .order_by(WebhookSubscription.id).with_for_update(key_share=True))
    in_flight = dict(session.execute(
        select(WebhookEvent.subscription_id, func.count())
        .where(WebhookEvent.state == SENDING, WebhookEvent.leased_until >= now,
               WebhookEvent.subscription_id.in_({sub for _, sub in due}))
        .group_by(WebhookEvent.subscription_id)
    ).all())
    chosen = []
    for event_id, subscription_id in due:
        if in_flight.get(subscription_id, 0) < per_subscription:
            in_flight[subscription_id] = in_flight.get(subscription_id, 0) + 1
            chosen.append(event_id)
    if chosen:
        session.execute(update(WebhookEvent).where(WebhookEvent.id.in_(chosen))
                        .values(state=SENDING, leased_until=until))
    return chosen


def webhook_event(session: Session, event_id: int, *, lock: bool = False) -> WebhookEvent | None:
    """One outbox event; ``lock`` row-locks it until commit (before its subscription, as leasing does not wait on it)."""
    return session.get(WebhookEvent, event_id, with_for_update=lock or None)


def record_attempt(session: Session, event: WebhookEvent, *, status: int | None, latency_ms: float | None,
                   error: str | None, at: datetime) -> None:
    session.add(WebhookAttempt(webhook_event_id=event.id, attempted_at=at, status_code=status,
                               latency_ms=latency_ms, error=error))
    event.attempts += 1
    event.last_status, event.last_error = status, error


def webhook_attempts(session: Session, event_ids: Sequence[int]) -> dict[int, list[WebhookAttempt]]:
    """Every POST of these events, oldest first, by event id: the delivery log."""
    attempts: dict[int, list[WebhookAttempt]] = {}
    if event_ids:
        for attempt in session.scalars(select(WebhookAttempt).where(WebhookAttempt.webhook_event_id.in_(list(event_ids)))
                                       .order_by(WebhookAttempt.id)):
            attempts.setdefault(attempt.webhook_event_id, []).append(attempt)
    return attempts


def webhook_events_of(session: Session, subscription_id: int, *, state: str | None, after_id: int,
                      limit: int) -> list[WebhookEvent]:
    statement = select(WebhookEvent).where(WebhookEvent.subscription_id == subscription_id, WebhookEvent.id > after_id)
    if state is not None:
        statement = statement.where(WebhookEvent.state == state)
    return list(session.scalars(statement.order_by(WebhookEvent.id).limit(limit)))


def replay_parked(session: Session, *, subscription_id: int | None = None, ids: Sequence[int] | None = None,
                  account_id: int | None = None) -> list[int]:
    """Parked events back to pending, with a fresh retry window; the ids."""
    now = utcnow()
    statement = update(WebhookEvent).where(WebhookEvent.state == PARKED)
    if subscription_id is not None:
        statement = statement.where(WebhookEvent.subscription_id == subscription_id)
    if ids is not None:
        statement = statement.where(WebhookEvent.id.in_(list(ids)))
    if account_id is not None:
        statement = statement.where(WebhookEvent.account_id == account_id)
    rows = session.execute(statement.values(state=PENDING, next_attempt_at=None, parked_at=None,
                                            retry_window_start=now).returning(WebhookEvent.id))
    return sorted(row.id for row in rows)


def webhook_event_counts(session: Session) -> dict[str, int]:
    """How many outbound webhook events are in each state (every state named, 0 if none)."""
    counts = dict.fromkeys(STATES, 0)
    counts.update(session.execute(select(WebhookEvent.state, func.count()).group_by(WebhookEvent.state)).all())
    return counts
