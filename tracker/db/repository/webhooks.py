"""Outbound webhooks: subscriptions, the outbox of events owed to them, leases and attempts."""
from __future__ import annotations

from datetime import datetime
from collections.abc import Sequence

from sqlalchemy import Float, Integer, Text, bindparam, delete, func, insert, select, tuple_, update
from sqlalchemy.orm import Session, object_session

from tracker.db.models import Delivery, UTCDateTime, WebhookAttempt, WebhookEvent, WebhookSubscription, utcnow
from tracker.db.repository.dialect import insert_for

__all__ = [
    "active_subscriptions",
    "clear_failing",
    "create_subscription",
    "deliveries_by_ids",
    "delete_subscription",
    "due_webhook_event_ids",
    "insert_webhook_events",
    "lease_webhook_events",
    "pass_webhook_slot",
    "record_delivered",
    "list_subscriptions",
    "record_attempt",
    "renew_webhook_leases",
    "replay_parked",
    "rotate_subscription_secret",
    "subscription_of",
    "webhook_attempts",
    "webhook_event",
    "webhook_event_counts",
    "webhook_to_send",
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


def rotate_subscription_secret(subscription: WebhookSubscription, secret: str,
                               previous_expires_at: datetime | None, now: datetime) -> None:
    """Sign with ``secret`` from now on, and with the current one too until ``previous_expires_at``
    (None: not at all). The secret of an earlier rotation, if still valid, stops signing.

    The row is read again, locked: a rotation committed since it was loaded is the one replaced (from the
    loaded copy, the secret that rotation answered would never sign, nor be replaced with a window)."""
    object_session(subscription).refresh(subscription, with_for_update=True)
    subscription.previous_secret = subscription.secret if previous_expires_at is not None else None
    subscription.previous_secret_expires_at = previous_expires_at
    subscription.secret = secret
    subscription.updated_at = now


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
    return list(session.scalars(_ACTIVE, {"account_ids": list(account_ids)}))


# Read by every batch that changes a status: built once, each call binds its values.
_ACTIVE = select(WebhookSubscription).where(
    WebhookSubscription.account_id.in_(bindparam("account_ids", expanding=True)), WebhookSubscription.active.is_(True))


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


def _due(now: datetime):
    """SQL: pending and past its retry time, or sending under a lease that ran out."""
    return (((WebhookEvent.state == PENDING)
             & (WebhookEvent.next_attempt_at.is_(None) | (WebhookEvent.next_attempt_at <= now)))
            | ((WebhookEvent.state == SENDING) & (WebhookEvent.leased_until < now)))


def due_webhook_event_ids(session: Session, now: datetime, limit: int, subscription_id: int | None = None, *,
                          per_subscription: int | None = None) -> list[tuple[int, int]]:
    """(event id, subscription id) of events due to be sent, oldest first, locked for this transaction.

    Due: pending and past its retry time, or sending with a lease that expired (the worker
    that held it died). With ``per_subscription``, subscriptions that many events in flight
    already are left out, so that a hanging subscriber's backlog never fills the page and
    hides everyone else's events.
    """
    statement = (
        select(WebhookEvent.id, WebhookEvent.subscription_id)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookEvent.subscription_id)
        .where(WebhookSubscription.active.is_(True), _due(now))
        .order_by(WebhookEvent.id)
        .limit(limit)
        .with_for_update(of=WebhookEvent, skip_locked=True)
    )
    if subscription_id is not None:
        statement = statement.where(WebhookEvent.subscription_id == subscription_id)
    if per_subscription is not None:
        busy = (select(WebhookEvent.subscription_id)
                .where(WebhookEvent.state == SENDING, WebhookEvent.leased_until >= now)
                .group_by(WebhookEvent.subscription_id)
                .having(func.count() >= per_subscription))
        statement = statement.where(WebhookEvent.subscription_id.not_in(busy))
    return [(row.id, row.subscription_id) for row in session.execute(statement)]


def lease_webhook_events(session: Session, now: datetime, until: datetime, *, per_subscription: int,
                         limit: int, subscription_id: int | None = None) -> list[int]:
    """Lease due events, at most ``per_subscription`` in flight per subscription; the ids leased.

    The bound is what keeps one slow or dead subscriber from taking every sender slot.
    """
    due = due_webhook_event_ids(session, now, limit, subscription_id, per_subscription=per_subscription)
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


# --- the sender's hot path: statements built once (Core, bound parameters), since each event
# runs them; the ORM's per-call statement building cost more CPU than the rest of a POST.

_events, _subscriptions = WebhookEvent.__table__, WebhookSubscription.__table__
_TO_SEND = (_events.c.id, _events.c.state, _events.c.leased_until, _events.c.payload, _events.c.subscription_id,
            _subscriptions.c.url, _subscriptions.c.secret, _subscriptions.c.previous_secret,
            _subscriptions.c.previous_secret_expires_at, _subscriptions.c.failing_since)
_WEBHOOK_TO_SEND = (select(*_TO_SEND)
                    .join(_subscriptions, _subscriptions.c.id == _events.c.subscription_id)
                    .where(_events.c.id == bindparam("b_event_id")))
_OLDEST_PENDING = (select(_events.c.id)
                   .where(_events.c.subscription_id == bindparam("b_subscription_id"), _events.c.state == PENDING,
                          _events.c.next_attempt_at.is_(None)
                          | (_events.c.next_attempt_at <= bindparam("b_now", type_=UTCDateTime())))
                   .order_by(_events.c.id).limit(1)
                   .with_for_update(skip_locked=True)
                   .scalar_subquery())
_PASS_SLOT = (update(_events)
              .where(_events.c.id == _OLDEST_PENDING, _subscriptions.c.id == _events.c.subscription_id,
                     _subscriptions.c.active.is_(True))
              .values(state=SENDING, leased_until=bindparam("b_until", type_=UTCDateTime())))
_PASS_SLOT_TO_SEND, _PASS_SLOT_ID = _PASS_SLOT.returning(*_TO_SEND), _PASS_SLOT.returning(_events.c.id)
_ATTEMPT = {"attempts": _events.c.attempts + 1, "last_status": bindparam("b_status", type_=Integer()),
            "last_error": bindparam("b_error", type_=Text())}
_SETTLE_DELIVERED = (update(_events)
                     .where(_events.c.id == bindparam("b_event_id"), _events.c.state == SENDING,
                            _events.c.leased_until == bindparam("b_lease", type_=UTCDateTime()))
                     .values(state=DELIVERED, delivered_at=bindparam("b_at", type_=UTCDateTime()), next_attempt_at=None,
                             leased_until=None, **_ATTEMPT)
                     .returning(_events.c.id))
_COUNT_ATTEMPT = (update(_events).where(_events.c.id == bindparam("b_event_id")).values(**_ATTEMPT)
                  .returning(_events.c.id))
_LOG_ATTEMPT = insert(WebhookAttempt.__table__).values(
    webhook_event_id=bindparam("b_event_id"), attempted_at=bindparam("b_at", type_=UTCDateTime()),
    status_code=bindparam("b_status", type_=Integer()), latency_ms=bindparam("b_latency_ms", type_=Float()),
    error=bindparam("b_error", type_=Text()))


def pass_webhook_slot(session: Session, subscription_id: int, now: datetime, until: datetime):
    """Lease the subscription's oldest due pending event to a sender whose event was just settled
    in this transaction (its slot passes on, so the subscription's in-flight count stays as it
    was); what POSTing it needs (as webhook_to_send), or None.

    Pending only, read in id order off (subscription_id, state, id): events whose lease ran
    out are few and the sender's own lease_webhook_events picks them up.
    """
    params = {"b_subscription_id": subscription_id, "b_now": now, "b_until": until}
    if session.get_bind().dialect.name == "postgresql":
        return session.execute(_PASS_SLOT_TO_SEND, params).first()
    # SQLite's RETURNING names only the updated table's columns.
    event_id = session.execute(_PASS_SLOT_ID, params).scalar()
    return None if event_id is None else webhook_to_send(session, event_id)


def webhook_to_send(session: Session, event_id: int):
    """What POSTing one event needs, in one query: its id, state, lease, body, and its
    subscription's id, url, secrets (and when the previous one expires) and failing_since;
    None if the event is gone."""
    return session.execute(_WEBHOOK_TO_SEND, {"b_event_id": event_id}).first()


def record_delivered(session: Session, event_id: int, lease: datetime, *, status: int | None,
                     latency_ms: float | None, error: str | None, at: datetime) -> bool | None:
    """Log an attempt that delivered the event, and mark it delivered if ``lease`` still holds it.

    True: delivered; False: the lease had run out and another sender has the event (only the
    attempt is logged); None: the event is gone (its subscription was deleted).
    """
    params = {"b_event_id": event_id, "b_lease": lease, "b_status": status, "b_error": error, "b_at": at,
              "b_latency_ms": latency_ms}
    mine = session.execute(_SETTLE_DELIVERED, params).first()
    if mine is None and session.execute(_COUNT_ATTEMPT, params).first() is None:
        return None
    session.execute(_LOG_ATTEMPT, params)
    return mine is not None


def clear_failing(session: Session, subscription_id: int) -> None:
    """The subscription answered: its run of failures is over."""
    session.execute(update(WebhookSubscription).where(WebhookSubscription.id == subscription_id,
                                                      WebhookSubscription.failing_since.is_not(None))
                    .values(failing_since=None).execution_options(synchronize_session=False))


def renew_webhook_leases(session: Session, held: dict[int, datetime], until: datetime) -> set[int]:
    """Move the given leases on to ``until``, each only if it is still the one held; the ids renewed."""
    if not held:
        return set()
    rows = session.execute(
        update(WebhookEvent)
        .where(WebhookEvent.state == SENDING,
               tuple_(WebhookEvent.id, WebhookEvent.leased_until).in_(list(held.items())))
        .values(leased_until=until)
        .returning(WebhookEvent.id)
        .execution_options(synchronize_session=False))
    return {row.id for row in rows}


def webhook_event(session: Session, event_id: int, *, lock: bool = False) -> WebhookEvent | None:
    """One outbox event; ``lock`` row-locks it until commit.

    Locked before its subscription, as leasing does not wait on it.
    """
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
        for attempt in session.scalars(select(WebhookAttempt)
                                       .where(WebhookAttempt.webhook_event_id.in_(list(event_ids)))
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
