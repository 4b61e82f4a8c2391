"""The tracker's pure core: statuses, normalized events and the state machine.

Standard library only and no I/O; every other layer may import it, it imports none of them.
"""
from tracker.domain.engagement import Engagement, Milestones, engagement, milestones
from tracker.domain.send_time import submitted_at
from tracker.domain.events import EventType, NormalizedEvent, normalize_address, normalize_message_id
from tracker.domain.state import (
    ACKNOWLEDGEABLE,
    INITIAL,
    DeliveryState,
    Outcome,
    can_acknowledge,
    event_key_of,
    fold,
    history,
    merge,
    precedence,
    transitions,
)
from tracker.domain.status import BounceType, Status

__all__ = [
    "ACKNOWLEDGEABLE",
    "BounceType",
    "DeliveryState",
    "Outcome",
    "Engagement",
    "Milestones",
    "EventType",
    "NormalizedEvent",
    "Status",
    "INITIAL",
    "can_acknowledge",
    "event_key_of",
    "engagement",
    "fold",
    "history",
    "merge",
    "milestones",
    "normalize_address",
    "normalize_message_id",
    "precedence",
    "submitted_at",
    "transitions",
]
