"""Small read/write functions over the models: the only place that builds queries."""
from __future__ import annotations

import dataclasses
import functools
import secrets
from datetime import datetime
from typing import Iterable, Sequence

from sqlalchemy import bindparam, case, exists, func, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from tracker import keys
from tracker.domain import DeliveryState, Engagement
from tracker.models import (
    Account,
    ApiKey,
    Delivery,
    DeliveryEvent,
    InboxEvent,
    ReplayToken,
    SnsSubscription,
    Source,
    Suppression,
    SuppressionRemoval,
    utcnow,
)

# --- accounts, keys, sources -------------------------------------------------------------


def create_account(session: Session, name: str) -> Account:
    account = Account(name=name)
    session.add(account)
    session.flush()
    return account


def account_by_name(session: Session, name: str) -> Account | None:
    return session.scalar(select(Account).where(Account.name == name))


def create_api_key(session: Session, account: Account) -> str:
    """Store a new key for ``account`` and return its plaintext (the only time it exists)."""
    new = keys.generate()
    session.add(ApiKey(account_id=account.id, key_id=new.key_id, secret_hash=new.secret_hash))
    session.flush()
    return new.plaintext


@dataclasses.dataclass(frozen=True)
class Caller:
    """Who an authenticated API request comes from."""

    account_id: int
    key_id: str


def caller_for_key(session: Session, presented: str) -> Caller | None:
    """The account (and key id) a presented API key belongs to, or None (unknown, malformed, revoked)."""
    parts = keys.split(presented)
    if parts is None:
        return None
    key_id, secret = parts
    row = session.execute(
        select(ApiKey.account_id, ApiKey.secret_hash).where(
            ApiKey.key_id == key_id, ApiKey.revoked_at.is_(None)
        )
    ).first()
    # Compare against a dummy hash when the id is unknown so both paths cost the same.
    stored = row.secret_hash if row else "0" * 64
    return Caller(row.account_id, key_id) if keys.matches(secret, stored) and row else None


def create_source(session: Session, account: Account, provider: str, topic_arns: Sequence[str] = (),
                  secret: str | None = None) -> Source:
    source = Source(
        account_id=account.id,
        provider=provider,
        token=secrets.token_urlsafe(24),
        topic_arns=list(topic_arns),
        secret=secret,
    )
    session.add(source)
    session.flush()
    return source


def sources_of(session: Session, account: Account, provider: str) -> list[Source]:
    return list(session.scalars(select(Source).where(Source.account_id == account.id, Source.provider == provider)))


def source_by_token(session: Session, token: str) -> Source | None:
    return session.scalar(select(Source).where(Source.token == token))


# --- inbox ------------------------------------------------------------------------------


def _insert(session: Session, model):
    """The dialect's INSERT, which knows ON CONFLICT on both PostgreSQL and SQLite."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


def store_inbox_event(connection: Connection, *, source_id: int, account_id: int, provider: str,
                      kind: str, dedupe_key: str, body: str, content_type: str | None = None) -> int | None:
    """Insert a raw event; the new row's id, or None when this source already has that key.

    Takes a Core connection, not a Session, and a statement built once per dialect: this
    runs once per received request, where building and cache-keying a fresh statement
    cost more CPU than the rest of the request.
    """
    return connection.execute(_store_statement(connection.dialect.name), {
        "source_id": source_id, "account_id": account_id, "provider": provider, "kind": kind,
        "dedupe_key": dedupe_key, "body": body, "content_type": content_type, "received_at": utcnow(),
    }).scalar()


@functools.cache
def _store_statement(dialect: str):
    table = InboxEvent.__table__
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(table)
        .values(state="pending", attempts=0, **{
            name: bindparam(name)
            for name in ("source_id", "account_id", "provider", "kind", "dedupe_key", "body", "content_type",
                         "received_at")
        })
        .on_conflict_do_nothing(index_elements=["source_id", "dedupe_key"])
        .returning(table.c.id)
    )


def inbox_has(connection: Connection, source_id: int, dedupe_key: str) -> bool:
    return bool(connection.execute(
        select(exists().where(InboxEvent.source_id == source_id, InboxEvent.dedupe_key == dedupe_key))
    ).scalar())


def remember_replay_token(connection: Connection, source_id: int, token: str) -> None:
    """Record a one-time token; raises IntegrityError when the source has seen it before."""
    connection.execute(ReplayToken.__table__.insert().values(source_id=source_id, token=token[:200],
                                                             seen_at=utcnow()))


def claim_pending(session: Session, limit: int) -> list[InboxEvent]:
    """Lock up to ``limit`` pending rows, oldest first, skipping rows another worker holds.

    SKIP LOCKED is PostgreSQL's; SQLite ignores the clause and serializes writers itself.
    """
    statement = (
        select(InboxEvent)
        .where(InboxEvent.state == "pending")
        .order_by(InboxEvent.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(statement))


def claim_by_ids(session: Session, ids: Sequence[int]) -> list[InboxEvent]:
    statement = (
        select(InboxEvent)
        .where(InboxEvent.id.in_(ids), InboxEvent.state == "pending")
        .order_by(InboxEvent.id)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(statement))


def mark_processed(session: Session, ids: Sequence[int], now: datetime) -> None:
    if ids:
        session.execute(
            update(InboxEvent)
            .where(InboxEvent.id.in_(ids))
            .values(state="processed", processed_at=now, error=None)
        )


def record_failure(session: Session, row_id: int, error: str, *, now: datetime, give_up: bool,
                   max_attempts: int) -> None:
    """Count a failed attempt; the row turns ``failed`` when retrying cannot help or attempts run out."""
    attempts = InboxEvent.attempts + 1
    session.execute(
        update(InboxEvent)
        .where(InboxEvent.id == row_id)
        .values(
            attempts=attempts,
            error=error[:4000],
            first_failed_at=func.coalesce(InboxEvent.first_failed_at, now),
            last_failed_at=now,
            state="failed" if give_up else case((attempts >= max_attempts, "failed"), else_="pending"),
        )
    )


def has_pending_before(session: Session, cutoff: datetime) -> bool:
    return bool(session.scalar(
        select(exists().where(InboxEvent.state == "pending", InboxEvent.received_at < cutoff))
    ))


def inbox_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(InboxEvent.state, func.count()).group_by(InboxEvent.state))
    return {state: count for state, count in rows}


def record_sns_subscription(session: Session, *, source_id: int, topic_arn: str, state: str,
                            subscription_arn: str | None, inbox_event_id: int) -> None:
    statement = _insert(session, SnsSubscription).values(
        source_id=source_id, topic_arn=topic_arn, state=state,
        subscription_arn=subscription_arn, inbox_event_id=inbox_event_id, updated_at=utcnow(),
    )
    session.execute(statement.on_conflict_do_update(
        index_elements=["source_id", "topic_arn"],
        set_={
            "state": statement.excluded.state,
            "subscription_arn": func.coalesce(statement.excluded.subscription_arn, SnsSubscription.subscription_arn),
            "inbox_event_id": statement.excluded.inbox_event_id,
            "updated_at": statement.excluded.updated_at,
        },
    ))


def sns_subscriptions(session: Session, source_id: int) -> list[SnsSubscription]:
    return list(session.scalars(select(SnsSubscription).where(SnsSubscription.source_id == source_id)))


# --- deliveries: writes -----------------------------------------------------------------


def insert_delivery_events(session: Session, rows: Sequence[dict]) -> set[tuple[int, str, str, str]]:
    """Insert history rows, skipping ones already known; the identities of those inserted.

    An identity is (account_id, message_id, recipient, event_key).
    """
    if not rows:
        return set()
    table = DeliveryEvent.__table__
    statement = (
        _insert(session, table)
        .on_conflict_do_nothing(index_elements=["account_id", "message_id", "recipient", "event_key"])
        .returning(table.c.account_id, table.c.message_id, table.c.recipient, table.c.event_key)
    )
    # executemany on a Core table: SQLAlchemy sends multi-row VALUES from one cached
    # compiled statement ("insertmanyvalues"), far cheaper than compiling .values(rows).
    return {tuple(row) for row in session.execute(statement, list(rows))}


@dataclasses.dataclass(frozen=True)
class DeliveryChange:
    """What a batch learnt about one delivery: the winner of its new events, how many, their engagement."""

    account_id: int
    provider: str
    message_id: str
    recipient: str
    state: DeliveryState
    new_events: int
    engagement: Engagement = Engagement()


def merge_deliveries(session: Session, changes: Sequence[DeliveryChange], now: datetime) -> None:
    """Create or update deliveries in one statement, keeping whichever state has the greater precedence.

    The domain defines precedence (tracker.domain.state); here the database keeps the max
    atomically, so concurrent workers touching one delivery need no lock and cannot lose
    an update.
    """
    if not changes:
        return
    table = Delivery.__table__
    statement = _insert(session, table)
    rows = [
        {
            "account_id": c.account_id, "provider": c.provider, "message_id": c.message_id,
            "recipient": c.recipient, "status": c.state.status.value, "precedence": c.state.precedence,
            "status_at": c.state.status_at,
            "bounce_type": c.state.bounce_type.value if c.state.bounce_type else None,
            "bounce_subtype": c.state.bounce_subtype, "diagnostic": c.state.diagnostic,
            "events_count": c.new_events, "created_at": now, "updated_at": now,
            "opens_count": c.engagement.opens, "first_opened_at": c.engagement.first_opened_at,
            "last_opened_at": c.engagement.last_opened_at, "clicks_count": c.engagement.clicks,
            "first_clicked_at": c.engagement.first_clicked_at, "last_clicked_at": c.engagement.last_clicked_at,
            "last_clicked_link": c.engagement.last_clicked_link,
        }
        for c in changes
    ]
    new, old = statement.excluded, table.c
    wins = new.precedence > old.precedence
    keep_winner = {
        column: case((wins, new[column]), else_=old[column])
        for column in ("status", "precedence", "status_at", "bounce_type", "bounce_subtype", "diagnostic")
    }
    later_click = _earlier_or_later(new.last_clicked_at, old.last_clicked_at, later=True)
    engagement = {
        "opens_count": old.opens_count + new.opens_count,
        "clicks_count": old.clicks_count + new.clicks_count,
        "first_opened_at": case((_earlier_or_later(new.first_opened_at, old.first_opened_at, later=False),
                                 new.first_opened_at), else_=old.first_opened_at),
        "last_opened_at": case((_earlier_or_later(new.last_opened_at, old.last_opened_at, later=True),
                                new.last_opened_at), else_=old.last_opened_at),
        "first_clicked_at": case((_earlier_or_later(new.first_clicked_at, old.first_clicked_at, later=False),
                                  new.first_clicked_at), else_=old.first_clicked_at),
        "last_clicked_at": case((later_click, new.last_clicked_at), else_=old.last_clicked_at),
        "last_clicked_link": case((later_click, new.last_clicked_link), else_=old.last_clicked_link),
    }
    session.execute(statement.on_conflict_do_update(
        index_elements=["account_id", "message_id", "recipient"],
        set_={**keep_winner, **engagement, "events_count": old.events_count + new.events_count,
              "updated_at": new.updated_at},
    # RETURNING is what makes SQLAlchemy batch an upsert into multi-row VALUES; without
    # it psycopg2 would send one statement per row.
    ).returning(table.c.id), rows).all()


def _earlier_or_later(candidate, current, *, later: bool):
    """SQL: the candidate time replaces the current one (min or max, NULL meaning none yet)."""
    beats = candidate > current if later else candidate < current
    return candidate.is_not(None) & (current.is_(None) | beats)


# --- deliveries: reads ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DeliveryFilter:
    message_id: str | None = None
    recipient: str | None = None
    status: str | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None


def list_deliveries(session: Session, account_id: int, where: DeliveryFilter, *,
                    after: tuple[datetime, int] | None, limit: int) -> list[Delivery]:
    """One keyset page, ordered by (updated_at, id): a changes feed a client can follow."""
    statement = select(Delivery).where(Delivery.account_id == account_id)
    if where.message_id is not None:
        statement = statement.where(Delivery.message_id == where.message_id)
    if where.recipient is not None:
        statement = statement.where(Delivery.recipient == where.recipient)
    if where.status is not None:
        statement = statement.where(Delivery.status == where.status)
    if where.updated_after is not None:
        statement = statement.where(Delivery.updated_at > where.updated_after)
    if where.updated_before is not None:
        statement = statement.where(Delivery.updated_at < where.updated_before)
    if after is not None:
        updated_at, last_id = after
        # A row-value comparison, which both databases answer from the (updated_at, id) index.
        statement = statement.where(tuple_(Delivery.updated_at, Delivery.id) > tuple_(updated_at, last_id))
    statement = statement.order_by(Delivery.updated_at, Delivery.id).limit(limit)
    return list(session.scalars(statement))


def delivery_of_account(session: Session, account_id: int, delivery_id: int) -> Delivery | None:
    return session.scalar(select(Delivery).where(Delivery.id == delivery_id, Delivery.account_id == account_id))


def delivery_history(session: Session, delivery: Delivery) -> list[DeliveryEvent]:
    """The delivery's events, oldest first, in the same order tracker.domain.history gives."""
    return list(session.scalars(
        select(DeliveryEvent)
        .where(DeliveryEvent.account_id == delivery.account_id,
               DeliveryEvent.message_id == delivery.message_id,
               DeliveryEvent.recipient == delivery.recipient)
        .order_by(DeliveryEvent.occurred_at, DeliveryEvent.event_key)
    ))


def all_deliveries(session: Session, account_id: int) -> Iterable[Delivery]:
    return session.scalars(select(Delivery).where(Delivery.account_id == account_id).order_by(Delivery.id))


# --- suppressions -----------------------------------------------------------------------


def add_suppressions(session: Session, rows: Sequence[dict]) -> None:
    """Suppress addresses; an address already suppressed keeps its first reason and event."""
    if not rows:
        return
    table = Suppression.__table__
    statement = (
        _insert(session, table)
        .on_conflict_do_nothing(index_elements=["account_id", "address"])
        .returning(table.c.id)  # lets SQLAlchemy batch the rows into one statement
    )
    session.execute(statement, list(rows)).all()


def soft_bounce_counts(session: Session, account_id: int, since_by_address: dict[str, datetime]) -> dict[str, int]:
    """How many distinct soft (non-permanent) bounces each address had since its given time."""
    counts = {}
    for address, since in since_by_address.items():
        counts[address] = session.scalar(
            select(func.count()).select_from(DeliveryEvent).where(
                DeliveryEvent.account_id == account_id,
                DeliveryEvent.recipient == address,
                DeliveryEvent.type == "bounced",
                func.coalesce(DeliveryEvent.bounce_type, "") != "PERMANENT",
                DeliveryEvent.occurred_at >= since,
            )
        )
    return counts


def list_suppressions(session: Session, account_id: int, *, reason: str | None,
                      after: tuple[datetime, int] | None, limit: int) -> list[Suppression]:
    """One keyset page of an account's suppressions, oldest first by (created_at, id)."""
    statement = select(Suppression).where(Suppression.account_id == account_id)
    if reason is not None:
        statement = statement.where(Suppression.reason == reason)
    if after is not None:
        statement = statement.where(tuple_(Suppression.created_at, Suppression.id) > tuple_(*after))
    return list(session.scalars(statement.order_by(Suppression.created_at, Suppression.id).limit(limit)))


def suppression_of(session: Session, account_id: int, address: str) -> Suppression | None:
    return session.scalar(select(Suppression).where(Suppression.account_id == account_id,
                                                    Suppression.address == address))


def remove_suppression(session: Session, suppression: Suppression, removed_by: str, snapshot: dict) -> None:
    """Delete a suppression and keep an audit record of what was removed and by whom."""
    session.add(SuppressionRemoval(account_id=suppression.account_id, address=suppression.address,
                                   removed_by=removed_by, removed_at=utcnow(), suppression=snapshot))
    session.delete(suppression)
    session.flush()
