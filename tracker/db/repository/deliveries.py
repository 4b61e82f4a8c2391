"""Deliveries and their history as the worker writes them: the batch's new events, locked states, merged winners.

The APIs' reads are in delivery_reads; what a batch records of messages is in messages."""
from __future__ import annotations

import dataclasses
import operator
from collections import defaultdict
from datetime import datetime
from collections.abc import Sequence

from sqlalchemy import bindparam, case, func, select
from sqlalchemy.orm import Session

from tracker.domain import (
    BounceType,
    DeliveryState,
    Engagement,
    EventType,
    Milestones,
    Outcome,
    Status,
    submitted_at,
)
from tracker.db.models import Delivery, DeliveryEvent
from tracker.db.repository.dialect import by_code_point
from tracker.db.repository.column_arrays import batch_insert, parameters
from tracker.db.repository.prebuilt import prebuilt

__all__ = [
    "DeliveryChange",
    "DeliveryRaced",
    "OUTCOME_COLUMN_NAMES",
    "outcome_values",
    "state_of",
    "LockedDelivery",
    "MergedDelivery",
    "insert_delivery_events",
    "lock_deliveries",
    "lock_states",
    "locked_delivery",
    "merge_deliveries",
]


def insert_delivery_events(session: Session, rows: Sequence[dict]) -> set[tuple[int, str, str, str]]:
    """Insert history rows, skipping ones already known; the identities of those inserted.

    An identity is (account_id, message_id, recipient, event_key).
    """
    if not rows:
        return set()
    # One statement for the batch, built once per dialect and set of columns (column_arrays says how).
    names = tuple(rows[0])
    statement = prebuilt(("insert history", session.get_bind().dialect.name, names),
                         lambda: _history_statement(session, names))
    return {tuple(row) for row in session.execute(statement, parameters(session, rows, names))}


def _history_statement(session: Session, names: tuple[str, ...]):
    table = DeliveryEvent.__table__
    return (batch_insert(session, table, names)
            .on_conflict_do_nothing(index_elements=["account_id", "message_id", "recipient", "event_key"])
            .returning(table.c.account_id, table.c.message_id, table.c.recipient, table.c.event_key))


@dataclasses.dataclass(frozen=True)
class LockedDelivery:
    """An existing delivery's current state and status sequence, row-locked until commit."""

    state: DeliveryState
    status_sequence: int


@dataclasses.dataclass(frozen=True)
class DeliveryChange:
    """What a batch learnt about one delivery: the winner of its new events, how many, their engagement.

    When the caller locked the delivery (lock_states: ``before``, None if there was none)
    and counted the status changes its events make on top of it (``changes``),
    ``status_sequence`` is the sequence after them. Without a count (None) the sequence
    moves on by one if the status changes, as for a registration.
    """

    account_id: int
    provider: str
    message_id: str
    recipient: str
    state: DeliveryState
    new_events: int
    engagement: Engagement = Engagement()
    milestones: Milestones = Milestones()
    registered_at: datetime | None = None  # an application registered the message (tracker.pipeline.registration)
    changes: tuple[DeliveryState, ...] = ()
    status_sequence: int | None = None
    before: LockedDelivery | None = None


@dataclasses.dataclass(frozen=True)
class MergedDelivery:
    """A delivery as the merge left it, and its status before.

    ``changes``: the state after each status change the merge made, oldest first, the last
    one at ``status_sequence`` (empty: only the delivery's current status is known to be new).
    """

    id: int
    account_id: int
    message_id: str
    recipient: str
    status: str
    previous_status: str | None  # None: the delivery did not exist
    status_sequence: int
    changes: tuple[DeliveryState, ...] = ()
    # The row the merge returned (lock_deliveries' columns): its statistics key, without a read.
    row: object = dataclasses.field(default=None, compare=False, repr=False)

    @property
    def status_changed(self) -> bool:
        return self.status != self.previous_status


class DeliveryRaced(Exception):
    """A delivery the caller found missing was created by a concurrent transaction before this
    merge reached it: counts made on top of "no delivery" are wrong; roll back and count again."""


def lock_states(session: Session, keys: Sequence[tuple[int, str, str]]) -> dict[tuple[int, str, str], LockedDelivery]:
    """The state of the existing deliveries among ``keys``, row-locked until commit."""
    return {key: locked_delivery(row) for key, row in lock_deliveries(session, keys).items()}


def locked_delivery(row) -> LockedDelivery:
    """The LockedDelivery a row of lock_deliveries holds."""
    return LockedDelivery(state_of(row), row.status_sequence)


def lock_deliveries(session: Session, keys: Sequence[tuple[int, str, str]]) -> dict[tuple[int, str, str], object]:
    """The existing deliveries among ``keys`` (rows of their state, sequence and statistics key
    columns), row-locked until commit: one statement per account in the batch.

    By (account_id, message_id IN ...), the unique key's prefix: a row-value IN list of
    (account, message, recipient) cost the worker more than the rest of its reads together.
    It also locks the messages' other deliveries (a worker applying their events waits for
    this transaction, as a registration of the message would). Locked in id order, so two workers never wait on
    each other in a cycle; SQLite serializes writers anyway and ignores the clause.
    """
    by_account: dict[int, set[str]] = defaultdict(set)
    for account_id, message_id, _ in keys:
        by_account[account_id].add(message_id)
    wanted, found = set(keys), {}
    for account_id, message_ids in sorted(by_account.items()):
        rows = session.execute(_LOCK, {"account_id": account_id, "message_ids": sorted(message_ids)})
        for r in rows:
            if (r.account_id, r.message_id, r.recipient) in wanted:
                found[(r.account_id, r.message_id, r.recipient)] = r
    return found


# Each field of a tracker.domain Outcome -> its delivery column for the status and for the failure.
_OUTCOME_COLUMNS = {
    "status": ("status", "failure_status"),
    "precedence": ("precedence", "failure_precedence"),
    "status_at": ("status_at", "failure_at"),
    "type": ("status_type", "failure_type"),
    "bounce_type": ("bounce_type", "failure_bounce_type"),
    "bounce_subtype": ("bounce_subtype", "failure_bounce_subtype"),
    "diagnostic": ("diagnostic", "failure_diagnostic"),
    "smtp_action": ("smtp_action", "failure_smtp_action"),
    "smtp_status": ("smtp_status", "failure_smtp_status"),
}
# Every delivery column state_of reads.
OUTCOME_COLUMN_NAMES = tuple(name for pair in _OUTCOME_COLUMNS.values() for name in pair)


# What lock_deliveries reads and merge_deliveries returns: a delivery's state and sequence
# (lock_states) and the columns of its statistics key (tracker.db.repository.stats.stat_key).
_LOCKED_COLUMNS = [Delivery.__table__.c[name] for name in (
    "id", "account_id", "message_id", "recipient", "provider", "status_sequence", "submitted_at", "created_at",
    *(name for pair in _OUTCOME_COLUMNS.values() for name in pair))]


# lock_deliveries's read, built once (tracker.db.repository.prebuilt says why).
_LOCK = (select(*_LOCKED_COLUMNS)
         .where(Delivery.account_id == bindparam("account_id"),
                Delivery.message_id.in_(bindparam("message_ids", expanding=True)))
         .order_by(Delivery.id).with_for_update())


# The outcome's columns in Outcome's field order, read with one attrgetter call per row.
_READ_STATE = operator.attrgetter(*(columns[0] for columns in _OUTCOME_COLUMNS.values()))
_READ_FAILURE = operator.attrgetter(*(columns[1] for columns in _OUTCOME_COLUMNS.values()))
# An Outcome's fields in _OUTCOME_COLUMNS's order (its own), and their columns for the status and the failure.
_READ_OUTCOME = operator.attrgetter(*_OUTCOME_COLUMNS)
_COLUMNS_OF = tuple(tuple(columns[which] for columns in _OUTCOME_COLUMNS.values()) for which in (0, 1))
# Stored value -> member, a dict lookup instead of an Enum call (a str member finds itself too).
_MEMBERS = {kind: {member.value: member for member in kind} for kind in (Status, EventType, BounceType)}


def state_of(row) -> DeliveryState:
    """The DeliveryState a delivery row (ORM object or Core row) holds: what every API renders.

    Every list renders it once a row, so it reads the columns with one call and maps stored
    values to enum members by a dict (a third of the time of the dict-of-fields form)."""
    failure = None
    if getattr(row, "failure_status", None) is not None:
        failure = Outcome(*_outcome_fields(_READ_FAILURE(row)))
    status, precedence, *rest = _outcome_fields(_READ_STATE(row))
    return DeliveryState(status, precedence or "", *rest, failure=failure)


def _outcome_fields(values: tuple) -> tuple:
    status, precedence, status_at, type_, bounce_type, *texts = values
    return (_member(Status, status), precedence, status_at, _member(EventType, type_),
            _member(BounceType, bounce_type), *texts)


def _member(kind, value):
    """The member stored as ``value`` (None for None); a value that is no member is the Enum's ValueError."""
    return None if value is None else _MEMBERS[kind].get(value) or kind(value)


def outcome_values(outcome: Outcome | None, which: int) -> dict:
    """The delivery columns (``which``: 0 the status's, 1 the failure's) holding ``outcome``.

    Twice per delivery a batch merges: its fields read with one call, its three members stored
    as their values."""
    names = _COLUMNS_OF[which]
    if outcome is None:
        return dict.fromkeys(names)
    status, precedence, status_at, type_, bounce_type, *texts = _READ_OUTCOME(outcome)
    return dict(zip(names, (_stored(status), precedence, status_at, _stored(type_), _stored(bounce_type), *texts),
                    strict=True))


def _stored(value):
    return value.value if isinstance(value, (Status, EventType, BounceType)) else value


def merge_deliveries(session: Session, changes: Sequence[DeliveryChange], now: datetime) -> list[MergedDelivery]:
    """Create or update deliveries in one statement, keeping whichever state has the greater precedence.

    The domain defines precedence (tracker.domain.state); here the database keeps the max
    atomically, so concurrent workers touching one delivery cannot lose an update. Changes
    with a counted status_sequence were locked by the caller: DeliveryRaced if one it found
    missing had meanwhile been created by another transaction.
    """
    if not changes:
        return []
    counted = changes[0].status_sequence is not None
    if any((c.status_sequence is not None) is not counted for c in changes):
        raise ValueError("merge counted changes and uncounted ones separately")
    if counted:
        locked = {(c.account_id, c.message_id, c.recipient): c.before for c in changes if c.before is not None}
    else:
        locked = lock_states(session, [(c.account_id, c.message_id, c.recipient) for c in changes])
    rows = [
        {
            "account_id": c.account_id, "provider": c.provider, "message_id": c.message_id,
            "recipient": c.recipient, **outcome_values(c.state, 0), **outcome_values(c.state.failure, 1),
            "events_count": c.new_events, "created_at": now, "updated_at": now,
            "status_sequence": c.status_sequence if counted else 1,
            "opens_count": c.engagement.opens, "first_opened_at": c.engagement.first_opened_at,
            "last_opened_at": c.engagement.last_opened_at, "clicks_count": c.engagement.clicks,
            "first_clicked_at": c.engagement.first_clicked_at, "last_clicked_at": c.engagement.last_clicked_at,
            "last_clicked_link": c.engagement.last_clicked_link,
            "sent_at": c.milestones.sent_at, "delivered_at": c.milestones.delivered_at,
            "first_event_at": c.milestones.first_event_at, "registered_at": c.registered_at,
            "submitted_at": submitted_at(c.milestones.sent_at, c.registered_at, c.milestones.first_event_at),
        }
        for c in changes
    ]
    # Built once per dialect and kind of change (prebuilt): building this statement and keying it
    # for SQLAlchemy's cache cost the worker more than a short batch's own rows did.
    names = tuple(rows[0])
    statement = prebuilt(("merge deliveries", session.get_bind().dialect.name, counted, names),
                         lambda: _merge_statement(session, counted, names))
    merged = session.execute(statement, parameters(session, rows, names)).all()
    if counted:
        # A row the caller found missing, yet not made by this statement (created_at is this
        # batch's): another transaction inserted it first and this upsert waited for it.
        raced = [r for r in merged if (r.account_id, r.message_id, r.recipient) not in locked and r.created_at != now]
        if raced:
            raise DeliveryRaced(f"{len(raced)} delivery(ies) created concurrently, e.g. {raced[0].message_id}")
    changed = {(c.account_id, c.message_id, c.recipient): c.changes for c in changes}
    return [
        MergedDelivery(r.id, r.account_id, r.message_id, r.recipient, r.status,
                       _status_of(locked.get((r.account_id, r.message_id, r.recipient))), r.status_sequence,
                       changed[(r.account_id, r.message_id, r.recipient)], row=r)
        for r in merged
    ]


def _merge_statement(session: Session, counted: bool, names: tuple[str, ...]):
    """merge_deliveries's upsert: the values are the rows it is executed with."""
    table = Delivery.__table__
    statement = batch_insert(session, table, names)
    new, old = statement.excluded, table.c
    wins = by_code_point(session, new.precedence) > by_code_point(session, old.precedence)
    # The failure too is the greater one (no new failure: NULL, which never wins).
    failure_wins = (by_code_point(session, new.failure_precedence)
                    > by_code_point(session, func.coalesce(old.failure_precedence, "")))
    keep_winner = {
        **{columns[0]: case((wins, new[columns[0]]), else_=old[columns[0]]) for columns in _OUTCOME_COLUMNS.values()},
        **{columns[1]: case((failure_wins, new[columns[1]]), else_=old[columns[1]])
           for columns in _OUTCOME_COLUMNS.values()},
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
        "sent_at": case((_earlier_or_later(new.sent_at, old.sent_at, later=False), new.sent_at),
                        else_=old.sent_at),
        "delivered_at": case((_earlier_or_later(new.delivered_at, old.delivered_at, later=False), new.delivered_at),
                             else_=old.delivered_at),
    }
    # The send time's inputs are each the earliest of their kind; the send time follows from
    # them as tracker.domain.submitted_at says (the same rule, in SQL, over the merged inputs).
    earliest = {column: case((_earlier_or_later(new[column], old[column], later=False), new[column]),
                             else_=old[column])
                for column in ("sent_at", "registered_at", "first_event_at")}
    basis = func.coalesce(earliest["sent_at"], earliest["registered_at"], earliest["first_event_at"])
    first = earliest["first_event_at"]
    send_time = {"registered_at": earliest["registered_at"], "first_event_at": first,
                 "submitted_at": case((first.is_not(None) & (first < basis), first), else_=basis)}
    # Counted: the caller holds the row lock and counted every change on top of it. Otherwise
    # (a registration) one more if the status changes.
    sequence = new.status_sequence if counted else case((wins & (new.status != old.status), old.status_sequence + 1),
                                                        else_=old.status_sequence)
    return statement.on_conflict_do_update(
        index_elements=["account_id", "message_id", "recipient"],
        set_={**keep_winner, **engagement, **send_time, "events_count": old.events_count + new.events_count,
              # A delivery registered before any event learns its provider from the first one.
              "provider": case((old.provider == "unknown", new.provider), else_=old.provider),
              "status_sequence": sequence,
              "updated_at": new.updated_at},
    # RETURNING says what each became (and on SQLite makes SQLAlchemy batch the upsert into
    # multi-row VALUES: without it the driver would run one statement per row).
    ).returning(*_LOCKED_COLUMNS)


def _status_of(locked: LockedDelivery | None) -> str | None:
    return None if locked is None else locked.state.status.value


def _earlier_or_later(candidate, current, *, later: bool):
    """SQL: the candidate time replaces the current one (min or max, NULL meaning none yet)."""
    beats = candidate > current if later else candidate < current
    return candidate.is_not(None) & (current.is_(None) | beats)
