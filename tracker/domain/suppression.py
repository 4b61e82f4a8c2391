"""When an address goes on an account's suppression list.

Anchored on listmonk's bounce policy: a hard bounce or a complaint suppresses at once, an
unsubscribe does too; soft (transient or undetermined) bounces only once an address has
had ``limit`` of them within ``window`` (listmonk's default soft count is 2).
"""
from __future__ import annotations

import dataclasses
import enum
from datetime import timedelta

from tracker.domain.events import EventType, NormalizedEvent
from tracker.domain.status import BounceType


class Reason(str, enum.Enum):
    HARD_BOUNCE = "hard_bounce"
    COMPLAINT = "complaint"
    UNSUBSCRIBE = "unsubscribe"
    SOFT_BOUNCES = "soft_bounces"


@dataclasses.dataclass(frozen=True)
class SoftBouncePolicy:
    limit: int = 2
    window: timedelta = timedelta(days=30)


def immediate_reason(event: NormalizedEvent) -> Reason | None:
    """The reason this one event suppresses its recipient, if it does on its own."""
    if event.type is EventType.BOUNCED and event.bounce_type is BounceType.PERMANENT:
        return Reason.HARD_BOUNCE
    if event.type is EventType.COMPLAINED:
        return Reason.COMPLAINT
    if event.type is EventType.UNSUBSCRIBED:
        return Reason.UNSUBSCRIBE
    return None


def is_soft_bounce(event: NormalizedEvent) -> bool:
    return event.type is EventType.BOUNCED and event.bounce_type is not BounceType.PERMANENT


def soft_bounces_suppress(count_in_window: int, policy: SoftBouncePolicy) -> bool:
    """Whether an address with this many soft bounces inside the window is suppressed."""
    return policy.limit > 0 and count_in_window >= policy.limit
