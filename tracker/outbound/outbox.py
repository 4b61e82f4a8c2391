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
from collections.abc import Sequence

from marshmallow import Schema, fields
from sqlalchemy.orm import Session

from tracker.db import repository
from tracker.outbound.delivery_item import DeliverySchema
from tracker.domain import DeliveryState

STATUS_CHANGED = "delivery.status_changed"
TEST = "webhook.test"
REPUTATION = "reputation.threshold_crossed"

_delivery = DeliverySchema()


class _StateSchema(Schema):
    """The fields of a delivery item a status change sets (as DeliverySchema renders them)."""

    status = fields.Function(lambda state: state.status.value)
    status_at = fields.DateTime()
    bounce_type = fields.Function(lambda state: state.bounce_type.value if state.bounce_type else None)
    bounce_subtype = fields.String(allow_none=True)
    diagnostic = fields.String(allow_none=True)


_state = _StateSchema()


def payload(event_type: str, delivery: dict | None, sequence: int, occurred_at: datetime) -> str:
    """The JSON body subscribers receive (and whose bytes are signed)."""
    return json.dumps({"id": str(uuid.uuid4()), "type": event_type, "occurred_at": occurred_at.isoformat(),
                       "delivery": delivery, "sequence": sequence}, separators=(",", ":"))


def enqueue_status_changes(session: Session, merged: Sequence[repository.MergedDelivery], now: datetime) -> int:
    """Queue one event per (status change, matching subscription); how many were queued.

    A delivery whose batch changed its status several times (a Delivery and a Complaint
    applied together) owes each change, with its own sequence, exactly as if the events
    had arrived one by one (MergedDelivery.changes, counted by tracker.domain.transitions).
    """
    changed = {m.id: m for m in merged if m.status_changed}
    if not changed:
        return 0
    subscriptions = defaultdict(list)
    for subscription in repository.active_subscriptions(session, sorted({m.account_id for m in changed.values()})):
        subscriptions[subscription.account_id].append(subscription)
    if not subscriptions:
        return 0
    rows = []
    for delivery in repository.deliveries_by_ids(session, list(changed)):
        if delivery.account_id not in subscriptions:
            continue
        for sequence, shown, occurred_at in _changes(delivery, changed[delivery.id].changes):
            body = None
            for subscription in subscriptions[delivery.account_id]:
                if subscription.statuses and shown["status"] not in subscription.statuses:
                    continue
                body = body or payload(STATUS_CHANGED, shown, sequence, occurred_at or now)
                rows.append(_row(subscription, delivery.id, sequence, STATUS_CHANGED, body, now))
    return repository.insert_webhook_events(session, rows)


def _changes(delivery, changes: Sequence[DeliveryState]) -> list[tuple[int, dict, datetime | None]]:
    """(sequence, delivery item as that change left it, when it happened) per change, oldest first.

    Each item shows the status and its facts (time, bounce type, diagnostic) as the change
    set them, which is what a subscriber would have been sent had the events come one by
    one; the counters (events, engagement) are the delivery's as of this batch. Without
    changes (a rebuild's recomputation) the delivery as it now is.
    """
    item = _delivery.dump(delivery)
    if not changes:
        return [(delivery.status_sequence, item, delivery.status_at)]
    first = delivery.status_sequence - len(changes) + 1
    return [(first + offset, {**item, **_state.dump(state)}, state.status_at) for offset, state in enumerate(changes)]


class SubscriptionDisabled(Exception):
    """A disabled subscription is sent nothing, so a test queued for it would never go out."""


def enqueue_test(session: Session, subscription, now: datetime) -> int:
    """A "webhook.test" event to one subscription, so its owner can check the receiving end.

    SubscriptionDisabled if it is disabled: senders skip it, and the owner would wait for a
    request that cannot come (and get it, surprised, whenever the subscription is enabled).
    """
    if not subscription.active:
        why = f" ({subscription.disabled_reason})" if subscription.disabled_reason else ""
        raise SubscriptionDisabled(f"webhook subscription {subscription.id} is disabled{why} and is sent nothing: "
                                   "make it active again first")
    # No delivery: a NULL delivery_id is outside the uniqueness that dedupes real changes,
    # so every test is sent.
    return repository.insert_webhook_events(session, [_row(subscription, None, 0, TEST, payload(TEST, None, 0, now),
                                                           now)])


def enqueue_reputation_crossings(session: Session, crossings: Sequence[tuple[int, dict]], now: datetime) -> int:
    """One "reputation.threshold_crossed" event per (crossing, active subscription of its account).

    Every active subscription gets them (a subscription's statuses filter is about delivery
    statuses); no delivery, so like a test event each is sent, signed and retried on its own.
    """
    subscriptions = defaultdict(list)
    for subscription in repository.active_subscriptions(session, sorted({account for account, _ in crossings})):
        subscriptions[subscription.account_id].append(subscription)
    rows = []
    for account_id, found in crossings:
        body = json.dumps({"id": str(uuid.uuid4()), "type": REPUTATION, "occurred_at": now.isoformat(),
                           "reputation": found}, separators=(",", ":"))
        rows.extend(_row(subscription, None, 0, REPUTATION, body, now) for subscription in subscriptions[account_id])
    return repository.insert_webhook_events(session, rows) if rows else 0


def _row(subscription, delivery_id, sequence, event_type, body, now) -> dict:
    return {"account_id": subscription.account_id, "subscription_id": subscription.id, "delivery_id": delivery_id,
            "type": event_type, "sequence": sequence, "payload": body, "state": "pending", "attempts": 0,
            "created_at": now, "retry_window_start": now}
