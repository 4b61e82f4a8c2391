"""Reads of the Infobip style (tracker.http.compat.infobip): its logs, its report queue, its prices."""
from __future__ import annotations

import dataclasses
from datetime import datetime
from collections.abc import Collection, Sequence

from sqlalchemy import and_, bindparam, func, not_, or_, select, tuple_, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from tracker.db import driver_reads
from tracker.db.models import Delivery, DeliveryEvent, Message
from tracker.db.repository.compat_filters import (ShownStatuses, Span, bound_within, columns_with_messages, shown_in,
                                                  span_shape, span_values)
from tracker.db.repository.deliveries import OUTCOME_COLUMN_NAMES
from tracker.db.repository.like_patterns import ESCAPE, escaped
from tracker.db.repository.paging import LIMIT
from tracker.db.repository.prebuilt import KEPT_LENGTH, prebuilt
from tracker.db.repository.stored_times import as_stored
from tracker.domain import Status

__all__ = ["InfobipFilter", "claim_infobip_reports", "infobip_logs", "infobip_logs_statement", "infobip_prices"]


@dataclasses.dataclass(frozen=True)
class InfobipFilter:
    """What an Infobip logs or reports request selects; an empty field selects on nothing."""
    sent: tuple[Span, ...] = ()  # submitted_at within each
    recipients: tuple[str, ...] | None = None  # None: any; () none
    senders: tuple[str, ...] = ()  # any of them, bare or as the address of a display form, any case
    shown: ShownStatuses | None = None  # the generalStatus
    message_ids: tuple[str, ...] = ()
    attributes: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (message attribute, any of these values)


# What a log or a report shows, as a Core row: the delivery's columns under their own keys (read like a
# Delivery: state_of, sent_at, done_at), its message's under message_* keys (None without one). Times
# as stored, naive UTC: the renderers only write them (as UTC), and making each of a 1,000-row page's
# five times aware on the way cost about a quarter of the page's CPU.
_SHOWN = ("id", "message_id", "recipient", "provider", "created_at", "submitted_at", "delivered_at",
          *OUTCOME_COLUMN_NAMES)
_MESSAGE_SHOWN = (Message.id.label("message_row"), Message.attributes.label("message_attributes"),
                  Message.from_address.label("message_from_address"), Message.subject.label("message_subject"))
_LOGGED = (*as_stored(*(Delivery.__table__.c[name] for name in _SHOWN)), *_MESSAGE_SHOWN)


def _filtered(where: InfobipFilter):
    """The rows ``where`` selects, its values bound (_filter_values gives them): built per shape."""
    statement = columns_with_messages(bindparam("account_id"), *_LOGGED)
    for n, span in enumerate(where.sent):
        statement = statement.where(*bound_within(Delivery.submitted_at, f"sent_{n}", span))
    if where.recipients is not None:
        statement = statement.where(Delivery.recipient.in_(bindparam("recipients", expanding=True)))
    if where.senders:
        sender = func.lower(Message.from_address)
        # The sender, bare or as the address in a display form ("Name <a@b>"), any case.
        statement = statement.where(or_(*[or_(sender == bindparam(f"sender_{n}"),
                                              sender.like(bindparam(f"sender_{n}_shown"), escape=ESCAPE))
                                          for n in range(len(where.senders))]))
    if where.shown is not None:
        statement = statement.where(shown_in(where.shown))
    if where.message_ids:
        statement = statement.where(Delivery.message_id.in_(bindparam("message_ids", expanding=True)))
    for n, (name, _) in enumerate(where.attributes):
        statement = statement.where(Message.attributes[name].as_string().in_(bindparam(f"attribute_{n}",
                                                                                       expanding=True)))
    return statement


def _filter_shape(where: InfobipFilter) -> tuple:
    """What of ``where`` its statement depends on: the statuses shown come from the API's vocabulary;
    everything else the caller gives is bound, only how many of each there are shapes it."""
    return (tuple(span_shape(span) for span in where.sent), where.recipients is not None, len(where.senders),
            where.shown, bool(where.message_ids), tuple(name for name, _ in where.attributes))


def _kept(where: InfobipFilter) -> bool:
    """Whether ``where``'s statement is kept: a query naming more than a few senders (any number
    fit in a query string, each its own conditions) is built for itself (tracker.db.repository.prebuilt)."""
    return max(len(where.senders), len(where.sent)) <= KEPT_LENGTH


def _filter_values(account_id: int, where: InfobipFilter) -> dict:
    values: dict = {"account_id": account_id}
    for n, span in enumerate(where.sent):
        values.update(span_values(f"sent_{n}", span))
    if where.recipients is not None:
        values["recipients"] = list(where.recipients)
    for n, raw in enumerate(where.senders):
        address = raw.strip().lower()
        values[f"sender_{n}"], values[f"sender_{n}_shown"] = address, f"%<{escaped(address)}>"
    if where.message_ids:
        values["message_ids"] = list(where.message_ids)
    for n, (_, accepted) in enumerate(where.attributes):
        values[f"attribute_{n}"] = list(accepted)
    return values


def infobip_logs_statement(account_id: int, where: InfobipFilter, *, before: tuple[datetime, int] | None,
                           limit: int):
    """The logs query: newest first, straight off the (account_id, submitted_at, id) index, before
    the (submitted_at, id) ``before`` when given; with its values (to explain it)."""
    statement, values = _logs(account_id, where, before, limit)
    return statement.params(values)


def infobip_logs(connection: Connection | driver_reads.DriverReader, account_id: int, where: InfobipFilter, *,
                 before: tuple[datetime, int] | None = None, limit: int) -> list:
    """Rows of the account's logs, newest first (infobip_logs_statement): a delivery's columns
    under their own keys, its message's as message_row (its id), message_attributes,
    message_from_address, message_subject (all None without a message)."""
    return driver_reads.rows(connection, *_logs(account_id, where, before, limit), kept=_kept(where))


def _logs(account_id: int, where: InfobipFilter, before: tuple[datetime, int] | None, limit: int) -> tuple:
    """(the logs query of this shape, built once, its values bound; the values)."""
    values = {**_filter_values(account_id, where), "limit": limit}
    if before is not None:
        values["before_at"], values["before_id"] = before
    return prebuilt(("infobip logs", _filter_shape(where), before is not None),
                    lambda: _logs_statement(where, before is not None), keep=_kept(where)), values


def _logs_statement(where: InfobipFilter, before: bool):
    statement = _filtered(where)
    if before:
        statement = statement.where(tuple_(Delivery.submitted_at, Delivery.id) < tuple_(
            bindparam("before_at", type_=Delivery.__table__.c.submitted_at.type), bindparam("before_id")))
    return statement.order_by(Delivery.submitted_at.desc(), Delivery.id.desc()).limit(LIMIT)


# The mark's own condition, so that a row marked meanwhile (SQLite: no row locks) is not marked twice.
_UNREPORTED = Delivery.reported_sequence < Delivery.status_sequence


def _reportable(final: Collection[str]) -> list:
    """Final, changed since last reported, and showing something the last report did not."""
    return [
        Delivery.status.in_(final),
        Delivery.status_sequence > Delivery.reported_sequence,
        # An open after a reported delivery renders the same DELIVERED report (the only final
        # status below OPENED is DELIVERED).
        not_(and_(Delivery.status == Status.OPENED.value, Delivery.reported_sequence > 0)),
        # An acknowledgement renders as the failure it acknowledged: the same report if the
        # status just before it was reported.
        not_(and_(Delivery.status == Status.ACKNOWLEDGED.value,
                  Delivery.reported_sequence == Delivery.status_sequence - 1)),
    ]


def claim_infobip_reports(connection: Connection | Session | driver_reads.DriverReader, account_id: int,
                          where: InfobipFilter, *, final: Collection[str], changed_since: datetime, limit: int) -> list:
    """Claim up to ``limit`` unreported reports of deliveries in a ``final`` status changed since
    ``changed_since`` (oldest change first), marking them reported: their Core rows, as infobip_logs's.

    Rows are read FOR UPDATE SKIP LOCKED, so concurrent pulls never claim the same report. The
    caller's transaction (on a DriverReader: driver_reads.within's) holds the mark until the pull
    has all it hands out: a pull that fails before its commit leaves its reports to the next one.
    """
    final = tuple(final)
    values = {**_filter_values(account_id, where), "changed_since": changed_since, "limit": limit}
    if isinstance(connection, driver_reads.DriverReader):
        if connection.core is None:
            raise ValueError("a claim commits with what the pull reads after it: driver_writing(), not autocommit")
        if _kept(where):
            # The claim and its mark in one statement on the driver: one round trip, no ids sent back to
            # mark them. (Through Core, an execution parameter named like a column, account_id, would
            # become a SET clause of the UPDATE inside the statement.)
            statement = prebuilt(("infobip reports, claimed", _filter_shape(where), final),
                                 lambda: _claimed_statement(where, final))
            return connection.rows(statement, values, through_core=False)
        connection = connection.core  # a shape built for one request: through Core, as two statements
    statement = prebuilt(("infobip reports", _filter_shape(where), final),
                         lambda: _reports_statement(where, final), keep=_kept(where))
    rows = connection.execute(statement, values).all()
    if not rows:
        return rows
    # Conditional, so that without row locks (SQLite) a concurrent pull still cannot
    # claim what this one claimed: only the rows this UPDATE changed are returned.
    claimed = set(connection.scalars(_MARK_REPORTED, {"ids": [row.id for row in rows]}))
    return [row for row in rows if row.id in claimed]


def _reports_statement(where: InfobipFilter, final: tuple[str, ...]):
    statement = _filtered(where).where(
        Delivery.updated_at >= bindparam("changed_since", type_=Delivery.__table__.c.updated_at.type),
        *_reportable(final))
    # Oldest change first, off the (account_id, updated_at, id) index: a backlog drains in order.
    return (statement.order_by(Delivery.updated_at, Delivery.id).limit(LIMIT)
            .with_for_update(skip_locked=True, of=Delivery))


def _claimed_statement(where: InfobipFilter, final: tuple[str, ...]):
    """_reports_statement's rows, claimed and marked reported in the same statement: the ids it picks
    (locked, SKIP LOCKED), marked by a data-modifying CTE, oldest change first. Only the rows the mark
    changed are returned, as _MARK_REPORTED's RETURNING decides in the two-statement form.

    The delivery's columns come from the UPDATE's RETURNING: the version it marked. A row changed and
    committed after the statement began is locked and marked in its newest version, while a read of
    deliveries in the same statement would see its snapshot's older one, and hand out a status other
    than the one marked reported (the newer one would then never be handed out)."""
    table = Delivery.__table__
    picked = _reports_statement(where, final).with_only_columns(Delivery.id).cte("picked")
    marked = (update(Delivery)
              .where(Delivery.id == picked.c.id, _UNREPORTED)
              .values(reported_sequence=Delivery.status_sequence)
              .returning(*(table.c[name] for name in (*_SHOWN, "account_id", "updated_at")))
              .cte("marked"))
    return (select(*as_stored(*(marked.c[name] for name in _SHOWN)), *_MESSAGE_SHOWN)
            .select_from(marked.outerjoin(Message, and_(Message.account_id == marked.c.account_id,
                                                        Message.message_id == marked.c.message_id)))
            .order_by(marked.c.updated_at, marked.c.id))


# Built once, the ids bound as one expanding parameter: building an IN of a page's ids as an
# expression cost more than running it.
_MARK_REPORTED = (update(Delivery)
                  .where(Delivery.id.in_(bindparam("ids", expanding=True)), _UNREPORTED)
                  .values(reported_sequence=Delivery.status_sequence)
                  .returning(Delivery.id)
                  .execution_options(synchronize_session=False))
_PRICES = select(DeliveryEvent.message_id, DeliveryEvent.recipient, DeliveryEvent.occurred_at,
                 DeliveryEvent.event_key, DeliveryEvent.details).where(
    DeliveryEvent.account_id == bindparam("account_id"),
    # Two IN lists rather than a row IN: an index range on the event identity index; the few
    # extra rows (another recipient of a message asked for) are never looked up.
    DeliveryEvent.message_id.in_(bindparam("message_ids", expanding=True)),
    DeliveryEvent.recipient.in_(bindparam("recipients", expanding=True)))


def infobip_prices(session: Session | Connection | driver_reads.DriverReader, account_id: int,
                   keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], dict]:
    """(message id, recipient) -> the price Infobip last stated in an event's details, for those that have one.

    Infobip reports a price per message; the latest report (by occurred_at, then event key)
    that carries one wins.
    """
    if not keys:
        return {}
    latest: dict[tuple[str, str], tuple] = {}
    rows = driver_reads.rows(session, _PRICES, {"account_id": account_id, "message_ids": sorted({m for m, _ in keys}),
                                                "recipients": sorted({r for _, r in keys})})
    for row in rows:
        price = (row.details or {}).get("price")
        key = (row.message_id, row.recipient)
        if isinstance(price, dict) and (key not in latest or (row.occurred_at, row.event_key) > latest[key][0]):
            latest[key] = ((row.occurred_at, row.event_key), price)
    return {key: price for key, (_, price) in latest.items()}
