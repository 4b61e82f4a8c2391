"""What the compatible APIs filter on, in SQL: a delivery with its message, time spans, shown statuses."""
from __future__ import annotations

import dataclasses
from datetime import datetime

from sqlalchemy import and_, false, or_, select

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


def within(column, span: Span) -> list:
    """Conditions: ``column`` in ``span``."""
    conditions = []
    if span.start is not None:
        conditions.append(column >= span.start)
    if span.end is not None:
        conditions.append(column < span.end)
    return conditions


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
