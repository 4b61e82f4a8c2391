"""Queries over registered messages and the deliveries one message names (registration, GET /api/v1/messages)."""
from __future__ import annotations

from datetime import datetime
from collections.abc import Collection

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from tracker.db.models import Delivery, Message

__all__ = [
    "delete_message_deliveries",
    "message_deliveries",
    "message_of_account",
    "message_with_id",
    "rename_message_deliveries",
]


def message_of_account(session: Session, account_id: int, message_row_id: int) -> Message | None:
    """The message row ``message_row_id`` if the account owns it."""
    return session.scalar(select(Message).where(Message.id == message_row_id, Message.account_id == account_id))


def message_with_id(session: Session, account_id: int, message_id: str) -> Message | None:
    """The account's message row for the provider message id ``message_id``, if any."""
    return session.scalar(select(Message).where(Message.account_id == account_id, Message.message_id == message_id))


def message_deliveries(session: Session, account_id: int, message_id: str, *,
                       recipients: Collection[str] | None = None, for_update: bool = False) -> list[Delivery]:
    """The deliveries of one message id, by id; only ``recipients``' when given; locked with ``for_update``."""
    statement = select(Delivery).where(Delivery.account_id == account_id, Delivery.message_id == message_id)
    if recipients is not None:
        statement = statement.where(Delivery.recipient.in_(recipients))
    statement = statement.order_by(Delivery.id)
    if for_update:
        statement = statement.with_for_update()
    return list(session.scalars(statement))


def delete_message_deliveries(session: Session, account_id: int, message_id: str, recipients: Collection[str]) -> None:
    """Delete the deliveries of ``message_id`` to ``recipients``."""
    session.execute(delete(Delivery).where(Delivery.account_id == account_id, Delivery.message_id == message_id,
                                           Delivery.recipient.in_(recipients)))


def rename_message_deliveries(session: Session, account_id: int, old: str, new: str, now: datetime) -> None:
    """Move every delivery of message id ``old`` to message id ``new``."""
    session.execute(update(Delivery).where(Delivery.account_id == account_id, Delivery.message_id == old)
                    .values(message_id=new, updated_at=now))
