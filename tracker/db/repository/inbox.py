"""The raw-event inbox: storing, claiming and marking rows; replay tokens; SNS subscriptions."""
from __future__ import annotations

import functools
import operator
from datetime import datetime
from collections.abc import Sequence

from sqlalchemy import and_, bindparam, exists, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Row
from sqlalchemy.orm import Session

from tracker.domain import inbox
from tracker.db.models import InboxEvent, ReplayToken, SnsSubscription, Source, utcnow
from tracker.db.repository.dialect import insert_for

__all__ = [
    "CONTENT_TYPE_WIDTH",
    "InboxRow",
    "PENDING_ROWS",
    "claim_by_ids",
    "claim_pending",
    "in_state",
    "inbox_counts",
    "inbox_has",
    "mark_processed",
    "record_failure",
    "record_sns_subscription",
    "remember_replay_token",
    "sns_subscriptions",
    "source_still_is",
    "store_inbox_event",
]


# How many characters of a request's Content-Type an inbox row keeps.
CONTENT_TYPE_WIDTH = InboxEvent.content_type.type.length


def in_state(state: str):
    """Rows in ``state``: for any state but processed, through the partial indexes of the rows not
    processed (ix_inbox_events_state_id, ix_inbox_events_account_state_id).

    The second term changes nothing on PostgreSQL. SQLite picks a partial index only for a query
    whose WHERE spells its predicate out: it does not infer state <> 'processed' from
    state = 'pending', and would read the whole inbox instead.
    """
    if state == inbox.PROCESSED:
        return InboxEvent.state == state
    return and_(InboxEvent.state == state, InboxEvent.state != inbox.PROCESSED)


PENDING_ROWS = in_state(inbox.PENDING)


# The inbox insert's columns, in the order of its parameters (a new column: one line here).
_STORED = (
    ("source_id", "bigint"), ("account_id", "bigint"), ("provider", "text"), ("kind", "text"),
    ("dedupe_key", "text"), ("body", "text"), ("content_type", "text"), ("request_id", "text"),
    ("received_at", "timestamp"),
)
_GUARD = (("source_token", "text"), ("source_secret", "text"))
_COLUMNS = ", ".join(name for name, _type in _STORED)
_PLACES = ", ".join(f"${n}" for n in range(1, len(_STORED) + 1))
# PostgreSQL plans these once per connection (PREPARE), not once per request. The guarded
# form inserts only while the source still has the token and secret the request was
# authenticated with: a receiver's cached source can never store an event for a source
# rotated meanwhile (tracker.services.SourceCache), at no extra round trip.
_PREPARED = {
    False: ("tracker_store_inbox_2", f"""
        INSERT INTO inbox_events ({_COLUMNS}, state, attempts) VALUES ({_PLACES}, 'pending', 0)
        ON CONFLICT (source_id, dedupe_key) DO NOTHING RETURNING id"""),
    True: ("tracker_store_inbox_guarded_2", f"""
        INSERT INTO inbox_events ({_COLUMNS}, state, attempts)
        SELECT {_PLACES}, 'pending', 0 FROM sources
        WHERE sources.id = $1 AND sources.token = ${len(_STORED) + 1}
          AND sources.secret IS NOT DISTINCT FROM ${len(_STORED) + 2}
        ON CONFLICT (source_id, dedupe_key) DO NOTHING RETURNING id"""),
}
# What runs once prepared: built here, not per request.
_PARAMETERS = {False: _STORED, True: _STORED + _GUARD}
_EXECUTE = {guarded: f"EXECUTE {_PREPARED[guarded][0]} ({', '.join(['%s'] * len(parameters))})"
            for guarded, parameters in _PARAMETERS.items()}
_TYPES = {guarded: ", ".join(kind for _name, kind in parameters) for guarded, parameters in _PARAMETERS.items()}
_ARGUMENTS = operator.itemgetter(*(column for column, _type in _STORED))


def store_inbox_event(connection, *, source_id: int | None, account_id: int, provider: str, kind: str,
                      dedupe_key: str, body: str, content_type: str | None = None, request_id: str | None = None,
                      source_token: str | None = None, source_secret: str | None = None) -> int | None:
    """Insert a raw event; the new row's id, or None when this source already has that key.

    ``connection``: a Core Connection, or a DBAPI connection (tracker.db.raw's pooled one or a kept
    one, tracker.db.kept_connections) on PostgreSQL, where it runs a statement prepared once per
    connection on a plain cursor (this runs once per received request: SQLAlchemy's execution
    path around it cost more CPU than the statement). With ``source_token``, None also when the source no longer
    has that token and ``source_secret`` (the caller tells that apart from a duplicate).
    """
    values = {"source_id": source_id, "account_id": account_id, "provider": provider, "kind": kind,
              "dedupe_key": dedupe_key, "body": body, "content_type": content_type, "request_id": request_id,
              "received_at": utcnow()}
    guarded = source_token is not None
    dbapi = _postgresql_dbapi(connection)
    if dbapi is None:
        if guarded and not source_still_is(connection, source_id, source_token, source_secret):
            return None
        return connection.execute(_store_statement(connection.dialect.name), values).scalar()
    name, statement = _PREPARED[guarded]
    prepared = dbapi.info.setdefault("tracker_prepared", set())
    values["received_at"] = values["received_at"].replace(tzinfo=None)  # the column holds naive UTC (UTCDateTime)
    arguments = _ARGUMENTS(values) + ((source_token, source_secret) if guarded else ())
    with dbapi.cursor() as cursor:
        if name not in prepared:
            cursor.execute(f"PREPARE {name} ({_TYPES[guarded]}) AS {statement}")
            prepared.add(name)
        cursor.execute(_EXECUTE[guarded], arguments)
        row = cursor.fetchone()
    return row[0] if row else None


def source_still_is(connection: Connection, source_id: int | None, token: str, secret: str | None) -> bool:
    """Whether the source still has this token and secret (the guard, where nothing is prepared)."""
    return bool(connection.execute(select(exists().where(
        Source.id == source_id, Source.token == token,
        Source.secret.is_(None) if secret is None else Source.secret == secret,
    ))).scalar())


def _postgresql_dbapi(connection):
    """The DBAPI connection behind ``connection`` on PostgreSQL; None for a Core connection elsewhere."""
    if isinstance(connection, Connection):
        return connection.connection if connection.dialect.name == "postgresql" else None
    return connection


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
    """Whether the source already stored an event under ``dedupe_key``."""
    return bool(connection.execute(
        select(exists().where(InboxEvent.source_id == source_id, InboxEvent.dedupe_key == dedupe_key))
    ).scalar())


def remember_replay_token(connection, source_id: int, token: str) -> None:
    """Record a one-time token; raises IntegrityError when the source has seen it before.

    ``connection``: as for store_inbox_event (a DBAPI connection raises the driver's error;
    tracker.db.raw turns it into SQLAlchemy's)."""
    dbapi = _postgresql_dbapi(connection)
    if dbapi is None:
        connection.execute(ReplayToken.__table__.insert().values(source_id=source_id, token=token[:200],
                                                                 seen_at=utcnow()))
        return
    with dbapi.cursor() as cursor:
        cursor.execute("INSERT INTO replay_tokens (source_id, token, seen_at) VALUES (%s, %s, %s)",
                       (source_id, token[:200], utcnow().replace(tzinfo=None)))


def claim_pending(session: Session, limit: int, now: datetime | None = None) -> list[InboxRow]:
    """Lock up to ``limit`` pending rows that are due, oldest first, skipping rows another worker holds.

    SKIP LOCKED is PostgreSQL's; SQLite ignores the clause and serializes writers itself.
    """
    values = {"now": now or utcnow(), "limit": limit}
    if session.get_bind().dialect.name != "postgresql":
        return session.execute(_CLAIM_SQLITE, values).all()
    connection = session.connection()
    connection.exec_driver_sql(_CLAIM_PLAN)
    rows = session.execute(_CLAIM, values).all()
    # (A failed claim leaves the transaction to its caller's rollback, which undoes SET LOCAL.)
    connection.exec_driver_sql(_CONFIGURED_PLANS)
    return rows


# An inbox row as the pipeline reads it: its columns by name. The claims give Core rows, not ORM
# objects: the worker only reads them and writes by id, and loading 500 objects into the
# session's identity map cost it more than its reads of them.
InboxRow = Row | InboxEvent
_INBOX_COLUMNS = tuple(InboxEvent.__table__.c)
# The two claims are built once, each call binding its values (tracker.db.repository.prebuilt says why).
_DUE = InboxEvent.next_attempt_at.is_(None) | (InboxEvent.next_attempt_at <= bindparam("now"))
_CLAIM_SQLITE = (select(*_INBOX_COLUMNS).where(PENDING_ROWS, _DUE).order_by(InboxEvent.id)
                 .limit(bindparam("limit")).with_for_update(skip_locked=True))
# On PostgreSQL the claim must walk ix_inbox_events_state_id's pending entries in id order and
# stop at the limit: its cost is then the batch's. The planner, trusting the inbox's
# statistics (never gathered on a new database, or gathered while a backlog was pending),
# otherwise picks a bitmap scan of every pending row plus a sort, or the primary key filtered
# past every processed row: a claim reading the whole backlog or inbox, a drain quadratic in
# it. So the order asked for is (state, id), which only that index gives without a sort,
# with the state as a range (as an equality, the planner drops it from the order, and the
# primary key gives the rest), and, for this statement only, no bitmap or sequential scan
# (_CLAIM_PLAN). A plain index scan also marks the entries of rows since processed dead as it
# passes them, so later claims skip them until a vacuum removes them.
_CLAIM = (select(*_INBOX_COLUMNS)
          .where(InboxEvent.state != inbox.PROCESSED, InboxEvent.state >= inbox.PENDING,
                 InboxEvent.state <= inbox.PENDING, _DUE)
          .order_by(InboxEvent.state, InboxEvent.id).limit(bindparam("limit")).with_for_update(skip_locked=True))
_CLAIM_PLAN = "SET LOCAL enable_bitmapscan = off; SET LOCAL enable_seqscan = off"
# Back to the configured values for the rest of the transaction only (RESET would reach past
# the transaction, into the pooled connection's session).
_CONFIGURED_PLANS = "SET LOCAL enable_bitmapscan TO DEFAULT; SET LOCAL enable_seqscan TO DEFAULT"


def claim_by_ids(session: Session, ids: Sequence[int]) -> list[InboxRow]:
    statement = (
        select(*_INBOX_COLUMNS)
        .where(InboxEvent.id.in_(ids), InboxEvent.state == "pending")
        .order_by(InboxEvent.id)
        .with_for_update(skip_locked=True)
    )
    return session.execute(statement).all()


def mark_processed(session: Session, ids: Sequence[int], now: datetime) -> None:
    if ids:
        session.execute(_MARK_PROCESSED, {"ids": list(ids), "now": now})


_MARK_PROCESSED = (update(InboxEvent.__table__).where(InboxEvent.__table__.c.id.in_(bindparam("ids", expanding=True)))
                   .values(state=inbox.PROCESSED, processed_at=bindparam("now"), error=None, failure_kind=None,
                           next_attempt_at=None))


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
