"""Queueing status changes for subscribers, in the same transaction that changed the status.

The transactional outbox: a change is owed to its subscribers exactly when it is
committed, and the senders (tracker.outbound.sender) work from the table, so a slow or
dead subscriber never holds up ingestion.
"""
from __future__ import annotations

import json
import uuid
from collections import defaultdict
from datetime import datetime
from typing import Sequence

from sqlalchemy.orm import Session

from tracker import repository
from tracker.api.schemas import DeliverySchema

STATUS_CHANGED = "delivery.status_changed"
TEST = "webhook.test"

_delivery = DeliverySchema()


def payload(event_type: str, delivery: dict | None, sequence: int, occurred_at: datetime) -> str:
    """The JSON body subscribers receive (and whose bytes are signed)."""
    return json.dumps({"id": str(uuid.uuid4()), "type": event_type, "occurred_at": occurred_at.isoformat(),
                       "delivery": delivery, "sequence": sequence}, separators=(",", ":"))


def enqueue_status_changes(session: Session, merged: Sequence[repository.MergedDelivery], now: datetime) -> int:
    """Queue one event per (changed delivery, matching subscription); how many were queued."""
    changed = [m for m in merged if m.status_changed]
    if not changed:
        return 0
    subscriptions = defaultdict(list)
    for subscription in repository.active_subscriptions(session, sorted({m.account_id for m in changed})):
        subscriptions[subscription.account_id].append(subscription)
    if not subscriptions:
        return 0
    rows = []
    for delivery in repository.deliveries_by_ids(session, [m.id for m in changed]):
        body = None
        for subscription in subscriptions.get(delivery.account_id, ()):
            if subscription.statuses and delivery.status not in subscription.statuses:
                continue
            body = body or payload(STATUS_CHANGED, _delivery.dump(delivery), delivery.status_sequence,
                                   delivery.status_at or now)
            rows.append(_row(subscription, delivery.id, delivery.status_sequence, STATUS_CHANGED, body, now))
    return repository.insert_webhook_events(session, rows)


def enqueue_test(session: Session, subscription, now: datetime) -> int:
    """A "webhook.test" event to one subscription, so its owner can check the receiving end."""
    # No delivery: a NULL delivery_id is outside the uniqueness that dedupes real changes,
    # so every test is sent.
    return repository.insert_webhook_events(session, [_row(subscription, None, 0, TEST, payload(TEST, None, 0, now),
                                                           now)])


def _row(subscription, delivery_id, sequence, event_type, body, now) -> dict:
    return {"account_id": subscription.account_id, "subscription_id": subscription.id, "delivery_id": delivery_id,
            "type": event_type, "sequence": sequence, "payload": body, "state": "pending", "attempts": 0,
            "created_at": now, "retry_window_start": now}
