"""The raw-event inbox: storing, claiming and marking rows; replay tokens; SNS subscriptions."""
from __future__ import annotations

import functools
from datetime import datetime
from typing import Sequence

from sqlalchemy import bindparam, exists, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from tracker.domain import inbox
from tracker.db.models import InboxEvent, ReplayToken, SnsSubscription, utcnow
from tracker.db.repository.dialect import insert_for

__all__ = [
    "claim_by_ids",
    "claim_pending",
    "inbox_counts",
    "inbox_has",
    "mark_processed",
    "record_failure",
    "record_sns_subscription",
    "remember_replay_token",
    "sns_subscriptions",
    "store_inbox_event",
]


def store_inbox_event(connection: Connection, *, source_id: int, account_id: int, provider: str,
                      kind: str, dedupe_key: str, body: str, content_type: str | None = None,
                      request_id: str | None = None) -> int | None:
    """Insert a raw event; the new row's id, or None when this source already has that key.

    Takes a Core connection, not a Session, and a statement built once per dialect: this
    runs once per received request, where building and cache-keying a fresh statement
    cost more CPU than the rest of the request.
    """
    return connection.execute(_store_statement(connection.dialect.name), {
        "source_id": source_id, "account_id": account_id, "provider": provider, "kind": kind,
        "dedupe_key": dedupe_key, "body": body, "content_type": content_type, "received_at": utcnow(),
        "request_id": request_id,
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
                         "received_at", "request_id")
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


def claim_pending(session: Session, limit: int, now: datetime | None = None) -> list[InboxEvent]:
    """Lock up to ``limit`` pending rows that are due, oldest first, skipping rows another worker holds.

    SKIP LOCKED is PostgreSQL's; SQLite ignores the clause and serializes writers itself.
    """
    now = now or utcnow()
    statement = (
        select(InboxEvent)
        .where(InboxEvent.state == "pending")
        .where((InboxEvent.next_attempt_at.is_(None)) | (InboxEvent.next_attempt_at <= now))
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
            .values(state="processed", processed_at=now, error=None, failure_kind=None, next_attempt_at=None)
            # The claimed objects are not read again before the commit expires them: no need
            # to evaluate the WHERE clause against each of them in Python.
            .execution_options(synchronize_session=False)
        )


def record_failure(session: Session, row_id: int, error: str, *, now: datetime, kind: str,
                   max_attempts: int, retry_delay) -> str:
    """Count a failed attempt with its error and kind.

    A payload that cannot be read or mapped fails the row at once (retrying cannot help
    until the parser changes, and then an operator replays it); a database or transient
    failure waits ``retry_delay(attempts)`` and is retried, until ``max_attempts`` make it
    failed with kind "exhausted" (the error text keeps what the last attempt met).
    Returns the row's new state (pending: it will be retried).
    """
    attempts = (session.scalar(select(InboxEvent.attempts).where(InboxEvent.id == row_id)) or 0) + 1
    if kind in inbox.RETRIED and attempts < max_attempts:
        state, next_attempt_at = inbox.PENDING, now + retry_delay(attempts)
    else:
        state, next_attempt_at = inbox.FAILED, None
        if kind in inbox.RETRIED:
            kind = inbox.EXHAUSTED
    session.execute(
        update(InboxEvent)
        .where(InboxEvent.id == row_id)
        .values(
            attempts=attempts,
            error=error[:4000],
            failure_kind=kind,
            first_failed_at=func.coalesce(InboxEvent.first_failed_at, now),
            last_failed_at=now,
            state=state,
            next_attempt_at=next_attempt_at,
        )
    )
    return state


def inbox_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(InboxEvent.state, func.count()).group_by(InboxEvent.state))
    return {state: count for state, count in rows}


def record_sns_subscription(session: Session, *, source_id: int, topic_arn: str, state: str,
                            subscription_arn: str | None, inbox_event_id: int) -> None:
    statement = insert_for(session, SnsSubscription).values(
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
