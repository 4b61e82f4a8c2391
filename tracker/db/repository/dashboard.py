"""Reads behind the operators' dashboard: per-account counts and look-ups, each answered from an index."""
from __future__ import annotations

import dataclasses
from datetime import datetime, UTC

from sqlalchemy import delete, exists, func, select, tuple_
from sqlalchemy.orm import Session

from tracker.domain import inbox
from tracker.db.models import (
    Account,
    ApiKey,
    DashboardSignout,
    Delivery,
    InboxEvent,
    Suppression,
    WebhookAttempt,
    WebhookEvent,
    WebhookSubscription,
)
from tracker.db.repository.dialect import insert_for
from tracker.db.repository.inbox import PENDING_ROWS, in_state
from tracker.db.repository.webhooks import PARKED, PENDING, SENDING

__all__ = [
    "ProviderBucket",
    "account_name",
    "end_dashboard_session",
    "failed_count",
    "find_deliveries",
    "live_operator_key",
    "oldest_pending_of_account",
    "parked_webhook_count",
    "provider_buckets",
    "recent_attempts",
    "recent_suppressions",
    "webhook_state_counts",
]

HOUR, DAY = "hour", "day"
OWED = (PENDING, SENDING, PARKED)  # webhook events not delivered yet
_SQLITE_FORMAT = {HOUR: "%Y-%m-%d %H:00:00", DAY: "%Y-%m-%d 00:00:00"}


@dataclasses.dataclass(frozen=True)
class ProviderBucket:
    provider: str
    start: datetime  # aware UTC: the hour or day the events were received in
    count: int


def _bucket(session: Session, unit: str):
    """received_at truncated to the hour or day, in the database's own words."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date_trunc(unit, InboxEvent.received_at)
    return func.strftime(_SQLITE_FORMAT[unit], InboxEvent.received_at)


def _as_utc(value) -> datetime:
    if isinstance(value, str):  # SQLite answers text
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC)


def provider_buckets(session: Session, account_id: int, since: datetime, unit: str,
                     until: datetime | None = None) -> list[ProviderBucket]:
    """Raw events received per provider and hour (or day) from ``since`` (up to ``until``, excluded).

    Answered by an index-only scan of ix_inbox_events_account_received (account, received_at,
    provider): the inbox bodies are never read.
    """
    bucket = _bucket(session, unit).label("bucket")
    statement = (select(InboxEvent.provider, bucket, func.count())
                 .where(InboxEvent.account_id == account_id, InboxEvent.received_at >= since))
    if until is not None:
        statement = statement.where(InboxEvent.received_at < until)
    rows = session.execute(statement.group_by(InboxEvent.provider, bucket))
    return [ProviderBucket(provider, _as_utc(start), count) for provider, start, count in rows]


def oldest_pending_of_account(session: Session, account_id: int) -> datetime | None:
    """When the account's oldest pending raw event arrived (by id: arrival order, from the account's index)."""
    return session.scalar(select(InboxEvent.received_at)
                          .where(InboxEvent.account_id == account_id, PENDING_ROWS)
                          .order_by(InboxEvent.id).limit(1))


def failed_count(session: Session, account_id: int) -> int:
    """The account's failed raw events, from the (account, state, id) index."""
    return session.scalar(select(func.count()).select_from(InboxEvent)
                          .where(InboxEvent.account_id == account_id, in_state(inbox.FAILED)))


def _subscriptions_of(account_id: int):
    return select(WebhookSubscription.id).where(WebhookSubscription.account_id == account_id)


def parked_webhook_count(session: Session, account_id: int) -> int:
    """Webhook events of the account's subscriptions given up on (parked), from the (subscription, state) index."""
    return session.scalar(select(func.count()).select_from(WebhookEvent).where(
        WebhookEvent.subscription_id.in_(_subscriptions_of(account_id)), WebhookEvent.state == PARKED))


def webhook_state_counts(session: Session, account_id: int) -> dict[int, dict[str, int]]:
    """Per subscription of the account: how many of its events are still owed (pending, sending, parked).

    Delivered events are not counted: they are most of the table and grow forever; each state
    counted here is a short range of ix_webhook_events_subscription_state.
    """
    counts: dict[int, dict[str, int]] = {}
    rows = session.execute(
        select(WebhookEvent.subscription_id, WebhookEvent.state, func.count())
        .where(WebhookEvent.subscription_id.in_(_subscriptions_of(account_id)), WebhookEvent.state.in_(OWED))
        .group_by(WebhookEvent.subscription_id, WebhookEvent.state))
    for subscription_id, state, n in rows:
        counts.setdefault(subscription_id, dict.fromkeys(OWED, 0))[state] = n
    return counts


def recent_attempts(session: Session, subscription_id: int, limit: int = 10) -> list:
    """The subscription's last POSTs, newest first: when, which event, the answer, latency, error."""
    return list(session.execute(
        select(WebhookAttempt.attempted_at, WebhookAttempt.status_code, WebhookAttempt.latency_ms,
               WebhookAttempt.error, WebhookEvent.id.label("event_id"), WebhookEvent.type, WebhookEvent.state)
        .join(WebhookEvent, WebhookEvent.id == WebhookAttempt.webhook_event_id)
        .where(WebhookEvent.subscription_id == subscription_id)
        .order_by(WebhookAttempt.id.desc()).limit(limit)))


def find_deliveries(session: Session, account_id: int, *, message_id: str | None = None,
                    recipient: str | None = None, limit: int = 50) -> list[Delivery]:
    """The account's deliveries of a message id and/or to a recipient, newest first.

    A message id is a prefix of the (account, message, recipient) unique index, a recipient
    of ix_deliveries_account_recipient; either bounds the rows read to that message or address.
    """
    statement = select(Delivery).where(Delivery.account_id == account_id)
    if message_id is not None:
        statement = statement.where(Delivery.message_id == message_id)
    if recipient is not None:
        statement = statement.where(Delivery.recipient == recipient)
    return list(session.scalars(statement.order_by(Delivery.id.desc()).limit(limit)))


def recent_suppressions(session: Session, account_id: int, *, address: str | None = None,
                        before: tuple[datetime, int] | None = None, limit: int = 50) -> list[Suppression]:
    """The account's suppressions, newest first (keyset before ``before``), or the one of ``address``."""
    statement = select(Suppression).where(Suppression.account_id == account_id)
    if address is not None:
        statement = statement.where(Suppression.address == address)
    if before is not None:
        statement = statement.where(tuple_(Suppression.created_at, Suppression.id) < tuple_(*before))
    return list(session.scalars(statement.order_by(Suppression.created_at.desc(), Suppression.id.desc())
                                .limit(limit)))


def live_operator_key(session: Session, key_id: str, account_id: int, sid: str) -> bool:
    """Whether a dashboard session is still on: its key a live operator key of that account (revoked:
    signed out), and the session itself not signed out (a copy of its cookie opens nothing)."""
    return session.scalar(select(ApiKey.id).where(
        ApiKey.key_id == key_id, ApiKey.account_id == account_id, ApiKey.role == "operator",
        ApiKey.revoked_at.is_(None), ~exists().where(DashboardSignout.sid == sid))) is not None


def end_dashboard_session(session: Session, sid: str, expires_at: datetime, now: datetime) -> None:
    """Record a signed-out session until it would have expired; forget those past that (they open nothing)."""
    session.execute(delete(DashboardSignout).where(DashboardSignout.expires_at < now))
    session.execute(insert_for(session, DashboardSignout).values(sid=sid, expires_at=expires_at)
                    .on_conflict_do_nothing(index_elements=["sid"]))  # signed out twice (a copy, a second tab)


def account_name(session: Session, account_id: int) -> str | None:
    """The account's name, for the page header."""
    return session.scalar(select(Account.name).where(Account.id == account_id))
