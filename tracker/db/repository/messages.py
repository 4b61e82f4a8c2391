"""Messages: what registration and events record of each (sender, subject, attributes), and the deliveries
one message names (registration, GET /api/v1/messages)."""
from __future__ import annotations

from datetime import datetime
from collections.abc import Collection, Sequence

from sqlalchemy import JSON, cast, delete, func, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from tracker.db.models import Delivery, Message
from tracker.db.repository.column_arrays import batch_insert, parameters
from tracker.db.repository.prebuilt import prebuilt

__all__ = [
    "delete_message_deliveries",
    "merge_message",
    "message_deliveries",
    "message_of_account",
    "message_with_id",
    "record_messages",
    "rename_message_deliveries",
]


def message_of_account(session: Session, account_id: int, message_row_id: int, *,
                       fresh: bool = False) -> Message | None:
    """The message row ``message_row_id`` if the account owns it (``fresh``: as committed now, over what the
    session loaded before)."""
    statement = select(Message).where(Message.id == message_row_id, Message.account_id == account_id)
    return session.scalar(statement.execution_options(populate_existing=True) if fresh else statement)


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


def record_messages(session: Session, messages: Sequence[tuple[int, object]], now: datetime) -> None:
    """Keep each message's sender, subject and tag attributes, filling only what is still unknown.

    Registration (tracker.pipeline.registration) and events may come in either order; whatever an
    application registered wins over what tags say, and the result is the same either way.
    """
    if not messages:
        return
    rows = [{"account_id": account_id, "message_id": facts.message_id, "from_address": facts.from_address,
             "subject": facts.subject, "attributes": facts.attributes, "created_at": now, "updated_at": now}
            for account_id, facts in messages]
    # One statement for the batch (a message row per SES event used to cost a locked read and
    # a write: two thirds of the worker's time), built once per dialect (prebuilt).
    dialect, names = session.get_bind().dialect.name, tuple(rows[0])
    session.execute(prebuilt(("record messages", dialect, names), lambda: _record_statement(session, names)),
                    parameters(session, rows, names))


def _record_statement(session: Session, names: tuple[str, ...]):
    """The messages' upsert: a message that learns nothing is not rewritten."""
    table = Message.__table__
    statement = batch_insert(session, table, names)
    new, old = statement.excluded, table.c
    attributes, changed = _fill_attributes(session, new.attributes, old.attributes)
    return statement.on_conflict_do_update(
        index_elements=["account_id", "message_id"],
        set_={"from_address": func.coalesce(old.from_address, new.from_address),
              "subject": func.coalesce(old.subject, new.subject),
              "attributes": attributes, "updated_at": new.updated_at},
        where=changed
              | (old.from_address.is_(None) & new.from_address.is_not(None))
              | (old.subject.is_(None) & new.subject.is_not(None)),
    ).returning(table.c.id)  # RETURNING: on SQLite one multi-row VALUES, not a statement per row


def _fill_attributes(session: Session, new, old) -> tuple:
    """SQL for old attributes completed by new ones (old keys win), and for "that adds a key"."""
    if session.get_bind().dialect.name == "postgresql":
        merged = cast(new, JSONB).op("||")(cast(old, JSONB))  # the right operand's keys win
        return cast(merged, JSON), merged != cast(old, JSONB)
    merged = func.json_patch(new, old)  # SQLite: the patch's (old's) keys win
    return merged, func.json(merged) != func.json(old)


def merge_message(session: Session, account_id: int, message_id: str, now: datetime, *, override: bool,
                  attributes: dict | None = None, **fields) -> Message:
    """Create or complete a message row. ``override``: the given values win (a registration);
    otherwise they only fill gaps (what an event's tags said)."""
    message = session.scalar(select(Message).where(Message.account_id == account_id,
                                                   Message.message_id == message_id).with_for_update())
    if message is None:
        message = Message(account_id=account_id, message_id=message_id, attributes={}, created_at=now)
        session.add(message)
    merged = dict(message.attributes or {})
    for name, value in (attributes or {}).items():
        if override or name not in merged:
            merged[name] = value
    message.attributes = merged
    for name, value in fields.items():
        if value is not None and (override or getattr(message, name) is None):
            setattr(message, name, value)
    message.updated_at = now
    session.flush()
    return message
