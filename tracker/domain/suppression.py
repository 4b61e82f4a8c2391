"""When an address goes on an account's suppression list.

Anchored on listmonk's bounce policy: a hard bounce or a complaint suppresses at once, an
unsubscribe does too; soft (transient or undetermined) bounces only once an address has
had ``limit`` of them within ``window`` (listmonk's default soft count is 2).

An entry names the event that put the address on the list: the earliest (by time, then
event key) of the events that suppress it, a soft bounce suppressing if it is the one that
brought the count within the window ending at it to the limit. Like a delivery's status,
that is the same whatever order the events arrive in and however often they repeat.
"""
from __future__ import annotations

import dataclasses
import enum
from datetime import datetime, timedelta
from collections.abc import Iterable
from typing import Protocol, TypeVar

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


class Timed(Protocol):
    occurred_at: datetime
    event_key: str


T = TypeVar("T", bound=Timed)


def entry_order(event: Timed) -> tuple[datetime, str]:
    """The order of the events that suppress an address: its entry names the least."""
    return event.occurred_at, event.event_key


def suppressing_soft_bounce(bounces: Iterable[T], policy: SoftBouncePolicy) -> T | None:
    """Of an address's distinct soft bounces, the earliest that brings the count within the window
    ending at it (its own time included, the window's start too) to the limit; None if none does."""
    if policy.limit <= 0:
        return None
    ordered = sorted(bounces, key=entry_order)
    for last in range(policy.limit - 1, len(ordered)):
        if ordered[last - policy.limit + 1].occurred_at >= ordered[last].occurred_at - policy.window:
            return ordered[last]
    return None
