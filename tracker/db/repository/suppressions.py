"""The suppression list and its audit records."""
from __future__ import annotations

from datetime import datetime
from collections.abc import Sequence

from sqlalchemy import bindparam, func, select, tuple_
from sqlalchemy.orm import Session

from tracker.db.models import DeliveryEvent, Suppression, SuppressionRemoval, utcnow
from tracker.db.repository.dialect import insert_for
from tracker.db.repository.prebuilt import prebuilt

__all__ = [
    "add_suppressions",
    "list_suppressions",
    "remove_suppression",
    "soft_bounce_counts",
    "suppression_of",
]


def add_suppressions(session: Session, rows: Sequence[dict]) -> None:
    """Suppress addresses; an address already suppressed keeps its first reason and event."""
    if not rows:
        return
    statement = prebuilt(("add suppressions", session.get_bind().dialect.name), lambda: _add_statement(session))
    session.execute(statement, list(rows)).all()


def _add_statement(session: Session):
    table = Suppression.__table__
    return (insert_for(session, table).on_conflict_do_nothing(index_elements=["account_id", "address"])
            .returning(table.c.id))  # lets SQLAlchemy batch the rows into one statement


# soft_bounce_counts's read, once a batch with soft bounces: built once, each call binds its values.
_SOFT_BOUNCES = select(DeliveryEvent.recipient, DeliveryEvent.occurred_at).where(
    DeliveryEvent.account_id == bindparam("account_id"),
    DeliveryEvent.recipient.in_(bindparam("recipients", expanding=True)),
    DeliveryEvent.type == "bounced",
    func.coalesce(DeliveryEvent.bounce_type, "") != "PERMANENT",
    DeliveryEvent.occurred_at >= bindparam("since"),
)


def soft_bounce_counts(session: Session, account_id: int, since_by_address: dict[str, datetime]) -> dict[str, int]:
    """How many distinct soft (non-permanent) bounces each address had since its given time.

    One statement for all the addresses (it used to be one per address: the only per-event
    query of a batch): their soft bounces since the earliest time asked, counted here
    against each address's own time. An address bounces softly a few times at most.
    """
    counts = dict.fromkeys(since_by_address, 0)
    if not since_by_address:
        return counts
    rows = session.execute(_SOFT_BOUNCES, {"account_id": account_id, "recipients": sorted(since_by_address),
                                           "since": min(since_by_address.values())})
    for recipient, occurred_at in rows:
        if occurred_at >= since_by_address[recipient]:
            counts[recipient] += 1
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
