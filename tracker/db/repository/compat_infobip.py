"""Reads of the Infobip style (tracker.http.compat.infobip) that are not the delivery row's own."""
from __future__ import annotations

from typing import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.db.models import DeliveryEvent

__all__ = ["infobip_prices"]


def infobip_prices(session: Session, account_id: int, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], dict]:
    """(message id, recipient) -> the price Infobip last stated in an event's details, for those that have one.

    Infobip reports a price per message; the latest report (by occurred_at, then event key)
    that carries one wins.
    """
    if not keys:
        return {}
    latest: dict[tuple[str, str], tuple] = {}
    rows = session.execute(select(DeliveryEvent.message_id, DeliveryEvent.recipient, DeliveryEvent.occurred_at,
                                  DeliveryEvent.event_key, DeliveryEvent.details).where(
        DeliveryEvent.account_id == account_id,
        # Two IN lists rather than a row IN: an index range on the event identity index; the few
        # extra rows (another recipient of a message asked for) are never looked up.
        DeliveryEvent.message_id.in_(sorted({m for m, _ in keys})),
        DeliveryEvent.recipient.in_(sorted({r for _, r in keys}))))
    for row in rows:
        price = (row.details or {}).get("price")
        key = (row.message_id, row.recipient)
        if isinstance(price, dict) and (key not in latest or (row.occurred_at, row.event_key) > latest[key][0]):
            latest[key] = ((row.occurred_at, row.event_key), price)
    return {key: price for key, (_, price) in latest.items()}
