"""What the compatible APIs filter on, in SQL: a delivery with its message, time spans, shown statuses."""
from __future__ import annotations

import dataclasses
from datetime import datetime

from sqlalchemy import and_, bindparam, false, or_, select

from tracker.db.models import Delivery, Message
from tracker.domain import Status

__all__ = ["ShownStatuses", "Span"]


@dataclasses.dataclass(frozen=True)
class Span:
    """The stored times from ``start`` (inclusive) to ``end`` (exclusive); None leaves that side open."""
    start: datetime | None = None
    end: datetime | None = None


@dataclasses.dataclass(frozen=True)
class ShownStatuses:
    """The deliveries an API shows in some of its statuses, by the canonical statuses behind them."""
    statuses: tuple[str, ...] = ()  # shown as themselves
    acknowledged: tuple[str, ...] = ()  # failure statuses an ACKNOWLEDGED delivery is shown as
    acknowledged_unknown: bool = False  # with ``acknowledged``: also an acknowledgement of no known failure


def columns_with_messages(account_id: int, *columns):
    """``columns`` of one account's deliveries and of their message, if any: a Core select, the
    message joined by uq_messages_account_message."""
    return (select(*columns)
            .select_from(Delivery)
            .outerjoin(Message, and_(Message.account_id == Delivery.account_id,
                                     Message.message_id == Delivery.message_id))
            .where(Delivery.account_id == account_id))


def bound_within(column, name: str, span: Span) -> list:
    """Conditions: ``column`` in a span shaped as ``span``, its ends the bound parameters
    ``<name>_start`` and ``<name>_end`` (span_values gives them)."""
    conditions = []
    if span.start is not None:
        conditions.append(column >= bindparam(f"{name}_start"))
    if span.end is not None:
        conditions.append(column < bindparam(f"{name}_end"))
    return conditions


def span_values(name: str, span: Span) -> dict:
    """The values of bound_within's parameters for ``span``."""
    values = {}
    if span.start is not None:
        values[f"{name}_start"] = span.start
    if span.end is not None:
        values[f"{name}_end"] = span.end
    return values


def span_shape(span: Span) -> tuple[bool, bool]:
    """Which ends ``span`` has: all its bound statement depends on."""
    return span.start is not None, span.end is not None


def shown_in(shown: ShownStatuses):
    """Condition: the delivery is shown in one of ``shown``'s statuses (an acknowledgement as the
    failure it acknowledged, stored on its row); nothing when ``shown`` names none."""
    conditions = [Delivery.status.in_(shown.statuses)] if shown.statuses else []
    if shown.acknowledged:
        acknowledged_as = Delivery.failure_status.in_(shown.acknowledged)
        if shown.acknowledged_unknown:
            acknowledged_as = or_(acknowledged_as, Delivery.failure_status.is_(None))
        conditions.append(and_(Delivery.status == Status.ACKNOWLEDGED.value, acknowledged_as))
    return or_(*conditions) if conditions else false()
