"""The suppression list and its audit records."""
from __future__ import annotations

import dataclasses
from datetime import datetime
from collections.abc import Collection, Sequence

from sqlalchemy import bindparam, func, select, tuple_
from sqlalchemy.orm import Session

from tracker.db.models import Delivery, DeliveryEvent, InboxEvent, Suppression, SuppressionRemoval, utcnow
from tracker.db.repository.dialect import by_code_point, insert_for
from tracker.db.repository.prebuilt import prebuilt

__all__ = [
    "add_suppressions",
    "list_suppressions",
    "remove_suppression",
    "SoftBounce",
    "soft_bounces",
    "suppression_of",
]


def add_suppressions(session: Session, rows: Sequence[dict]) -> None:
    """Suppress addresses, one row each; an address already on the list keeps the earlier of its
    entry and the new one (tracker.domain.suppression.entry_order), in one atomic statement, so
    concurrent workers end with the same entry whatever order they commit in."""
    if not rows:
        return
    statement = prebuilt(("add suppressions", session.get_bind().dialect.name), lambda: _add_statement(session))
    session.execute(statement, list(rows)).all()


def _add_statement(session: Session):
    table = Suppression.__table__
    statement = insert_for(session, table)
    new = statement.excluded
    # By code point, as entry_order (Python) compares them in a batch: otherwise which of two events at
    # one moment an entry named would depend on whether they came in one batch.
    new_key, key = by_code_point(session, new.event_key), by_code_point(session, table.c.event_key)
    return (statement.on_conflict_do_update(
        index_elements=["account_id", "address"],
        set_={name: new[name] for name in ("reason", "provider", "message_id", "event_key", "occurred_at")},
        # When it went on the list (created_at) stays; which event put it there may be an earlier one.
        where=tuple_(new.occurred_at, new_key) < tuple_(table.c.occurred_at, key))
        .returning(table.c.id))  # lets SQLAlchemy batch the rows into one statement


@dataclasses.dataclass(frozen=True)
class SoftBounce:
    """A soft bounce in an address's history, and the provider that reported it."""

    occurred_at: datetime
    event_key: str
    message_id: str
    provider: str


# soft_bounces's read, once a batch with soft bounces: built once, each call binds its values. The provider
# is the raw event's or, once retention purged that (--raw-days shorter than the window), the delivery's.
_SOFT_BOUNCES = (
    select(DeliveryEvent.recipient, DeliveryEvent.occurred_at, DeliveryEvent.event_key, DeliveryEvent.message_id,
           func.coalesce(InboxEvent.provider, Delivery.provider, "unknown"))
    .outerjoin(InboxEvent, InboxEvent.id == DeliveryEvent.inbox_event_id)
    .outerjoin(Delivery, (Delivery.account_id == DeliveryEvent.account_id)
               & (Delivery.message_id == DeliveryEvent.message_id) & (Delivery.recipient == DeliveryEvent.recipient))
    .where(DeliveryEvent.account_id == bindparam("account_id"),
           DeliveryEvent.recipient.in_(bindparam("recipients", expanding=True)),
           DeliveryEvent.type == "bounced",
           func.coalesce(DeliveryEvent.bounce_type, "") != "PERMANENT",
           DeliveryEvent.occurred_at >= bindparam("since"), DeliveryEvent.occurred_at <= bindparam("until")))


def soft_bounces(session: Session, account_id: int, recipients: Collection[str], since: datetime,
                 until: datetime) -> dict[str, list[SoftBounce]]:
    """The distinct soft (non-permanent) bounces of these addresses from ``since`` to ``until``.

    One statement for all the addresses (it used to be one per address: the only per-event
    query of a batch). An address bounces softly a few times at most.
    """
    found: dict[str, list[SoftBounce]] = {recipient: [] for recipient in recipients}
    if not found:
        return found
    rows = session.execute(_SOFT_BOUNCES, {"account_id": account_id, "recipients": sorted(found), "since": since,
                                           "until": until})
    for recipient, *bounce in rows:
        found[recipient].append(SoftBounce(*bounce))
    return found


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
