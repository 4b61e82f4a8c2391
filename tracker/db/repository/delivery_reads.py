"""Deliveries and their history as the APIs read them: keyset pages of Core rows, a message's deliveries,
a delivery's history."""
from __future__ import annotations

import dataclasses
from datetime import datetime
from collections.abc import Iterable

from sqlalchemy import bindparam, select, tuple_
from sqlalchemy.engine import Connection, Row
from sqlalchemy.orm import Session

from tracker.db import driver_reads
from tracker.db.models import Delivery, DeliveryEvent
from tracker.db.repository.prebuilt import prebuilt
from tracker.db.repository.stored_times import as_stored

__all__ = [
    "DeliveryFilter",
    "HISTORY_COLUMNS",
    "LISTED_COLUMNS",
    "all_deliveries",
    "deliveries_of_message",
    "delivery_history",
    "delivery_of_account",
    "history_rows",
    "list_deliveries",
]


@dataclasses.dataclass(frozen=True)
class DeliveryFilter:
    message_id: str | None = None
    recipient: str | None = None
    status: str | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None


# What the native API shows of a delivery (tracker.http.api.schemas.delivery_item): Core rows
# of these columns cost a fraction of ORM objects of every column.
LISTED_COLUMNS = ("id", "message_id", "recipient", "provider", "submitted_at", "status", "status_at",
                  "bounce_type", "bounce_subtype", "diagnostic", "events_count", "opens_count", "first_opened_at",
                  "last_opened_at", "clicks_count", "first_clicked_at", "last_clicked_at", "last_clicked_link",
                  "created_at", "updated_at")
HISTORY_COLUMNS = ("id", "type", "status", "occurred_at", "bounce_type", "bounce_subtype", "diagnostic", "details",
                   "inbox_event_id", "recorded_at")


def _as_stored(table, names):
    """The columns, times as stored (naive UTC): the renderer adds the zone."""
    return as_stored(*(table.c[name] for name in names))


_LISTED = select(*_as_stored(Delivery.__table__, LISTED_COLUMNS))


def list_deliveries(connection: Connection | Session | driver_reads.DriverReader, account_id: int,
                    where: DeliveryFilter, *, after: tuple[datetime, int] | None, limit: int) -> list:
    """One keyset page, ordered by (updated_at, id): a changes feed a client can follow.

    Rows of LISTED_COLUMNS, in that order, not ORM objects (read with tracker.db.engine's
    Database.driver_reading(), or any Core connection); their times are naive UTC.
    """
    values = {"account_id": account_id, "limit": limit,
              **{name: getattr(where, name) for name in _FILTERS if getattr(where, name) is not None}}
    if after is not None:
        values["after_at"], values["after_id"] = after
    filters, keyset = tuple(name for name in _FILTERS if name in values), after is not None
    statement = prebuilt(("native", filters, keyset), lambda: _page_statement(filters, keyset))
    return driver_reads.rows(connection, statement, values)


# Filter -> its condition on a bound value of the same name.
_FILTERS = {
    "message_id": lambda value: Delivery.message_id == value,
    "recipient": lambda value: Delivery.recipient == value,
    "status": lambda value: Delivery.status == value,
    "updated_after": lambda value: Delivery.updated_at > value,
    "updated_before": lambda value: Delivery.updated_at < value,
}


def _page_statement(filters: tuple[str, ...], keyset: bool):
    """The page query for a combination of filters, kept per combination (prebuilt): a request
    only binds its values (building and keying a statement per request cost more than running it)."""
    statement = _LISTED.where(Delivery.account_id == bindparam("account_id"))
    for name in filters:
        statement = statement.where(_FILTERS[name](bindparam(name)))
    if keyset:
        # A row-value comparison, which both databases answer from the (updated_at, id) index.
        statement = statement.where(tuple_(Delivery.updated_at, Delivery.id) > tuple_(
            bindparam("after_at", type_=Delivery.__table__.c.updated_at.type), bindparam("after_id")))
    return statement.order_by(Delivery.updated_at, Delivery.id).limit(bindparam("limit"))


def deliveries_of_message(connection: Connection | Session, account_id: int, message_id: str) -> list[Row]:
    """A message's deliveries (one per recipient) by id, as list_deliveries gives rows."""
    return connection.execute(_LISTED.where(Delivery.account_id == account_id, Delivery.message_id == message_id)
                              .order_by(Delivery.id)).all()


_HISTORY = _as_stored(DeliveryEvent.__table__, HISTORY_COLUMNS)


def history_rows(connection: Connection, account_id: int, delivery_id: int) -> list[Row] | None:
    """The history of the account's delivery ``delivery_id`` in one query, oldest first as delivery_history
    orders it: Core rows of HISTORY_COLUMNS (times naive UTC), or None if the account has no such delivery."""
    event = DeliveryEvent.__table__.c
    rows = connection.execute(
        select(*_HISTORY)
        .select_from(Delivery.__table__.outerjoin(DeliveryEvent.__table__, (event.account_id == Delivery.account_id)
                                                  & (event.message_id == Delivery.message_id)
                                                  & (event.recipient == Delivery.recipient)))
        .where(Delivery.id == delivery_id, Delivery.account_id == account_id)
        .order_by(event.occurred_at, event.event_key)
    ).all()
    if not rows:
        return None
    return [row for row in rows if row.id is not None]  # a delivery without events: one row of NULLs


def delivery_of_account(session: Session, account_id: int, delivery_id: int) -> Delivery | None:
    return session.scalar(select(Delivery).where(Delivery.id == delivery_id, Delivery.account_id == account_id))


def delivery_history(session: Session, delivery: Delivery, *, after: tuple[datetime, str] | None = None,
                     limit: int | None = None) -> list[DeliveryEvent]:
    """The delivery's events, oldest first, in the same order tracker.domain.history gives; a page of ``limit``
    past ``after`` (an event's occurred_at and event_key) when given."""
    statement = select(DeliveryEvent).where(DeliveryEvent.account_id == delivery.account_id,
                                            DeliveryEvent.message_id == delivery.message_id,
                                            DeliveryEvent.recipient == delivery.recipient)
    if after is not None:
        statement = statement.where(tuple_(DeliveryEvent.occurred_at, DeliveryEvent.event_key) > tuple_(*after))
    return list(session.scalars(statement.order_by(DeliveryEvent.occurred_at, DeliveryEvent.event_key).limit(limit)))


def all_deliveries(session: Session, account_id: int) -> Iterable[Delivery]:
    return session.scalars(select(Delivery).where(Delivery.account_id == account_id).order_by(Delivery.id))
