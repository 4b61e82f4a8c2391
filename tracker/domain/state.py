"""The state machine: a delivery's current status as a pure function of its history.

Current status = the event with the highest (rank, occurred_at, event_key). Taking a
maximum over a total order is associative, commutative and idempotent, so the result does
not depend on arrival order or on duplicates, which is what at-least-once, unordered
senders (SNS, SQS, every webhook) require. ``merge`` is the incremental form the worker
uses; ``fold`` recomputes from a whole history and must always agree with it;
``transitions`` names the status changes new events make on the way, in arrival order,
each of which subscribers are sent.
"""
from __future__ import annotations

import dataclasses
from datetime import datetime, UTC
from collections.abc import Iterable

from tracker.domain.events import EventType, NormalizedEvent
from tracker.domain.status import BounceType, Status


def precedence(event: NormalizedEvent) -> str:
    """A string whose lexical order is the state machine's order on status events.

    Persistence keeps the winner's precedence on the delivery row, so merging a new event
    is a plain "keep the greater string" comparison that the database can do atomically.
    """
    status = event.status
    if status is None:
        raise ValueError(f"{event.type.value} events assert no status")
    stamp = event.occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return f"{status.rank:02d}|{stamp}|{event.event_key}"


def event_key_of(precedence_: str) -> str:
    """The event key a precedence string ends with: which history event asserted that outcome."""
    return precedence_.split("|", 2)[2]


@dataclasses.dataclass(frozen=True)
class Outcome:
    """A status and its facts, as the event that asserted it said them."""

    status: Status
    precedence: str
    status_at: datetime | None = None
    type: EventType | None = None  # what kind of event asserted it (a reject and a rendering failure are both ERROR)
    bounce_type: BounceType | None = None
    bounce_subtype: str | None = None
    diagnostic: str | None = None
    smtp_action: str | None = None
    smtp_status: str | None = None

    @classmethod
    def from_event(cls, event: NormalizedEvent) -> Outcome:
        return cls(
            status=event.status,  # type: ignore[arg-type]  # checked by precedence()
            precedence=precedence(event),
            status_at=event.occurred_at,
            type=event.type,
            bounce_type=event.bounce_type,
            bounce_subtype=event.bounce_subtype,
            diagnostic=event.diagnostic,
            smtp_action=event.smtp_action,
            smtp_status=event.smtp_status,
        )


@dataclasses.dataclass(frozen=True)
class DeliveryState(Outcome):
    """What a delivery row holds about its current status: everything any API renders.

    ``failure`` is the winning failure in the history (the greatest ERROR, BOUNCED or
    COMPLAINT event, by the same order as the status): what an ACKNOWLEDGED delivery renders
    as in the APIs that have no acknowledged status, so that no view looks at the history.
    """

    failure: Outcome | None = None

    @property
    def shown(self) -> Outcome:
        """The outcome to render where ACKNOWLEDGED cannot be shown: the failure acknowledged."""
        if self.status is Status.ACKNOWLEDGED and self.failure is not None:
            return self.failure
        return self


# A delivery registered before any provider event: ranks below every event.
INITIAL = DeliveryState(status=Status.PENDING, precedence="")


def merge(state: DeliveryState, event: NormalizedEvent) -> DeliveryState:
    """The state after also knowing ``event``."""
    if event.status is None:
        return state
    candidate = DeliveryState.from_event(event)
    failure = state.failure
    if candidate.status in ACKNOWLEDGEABLE and (failure is None or candidate.precedence > failure.precedence):
        failure = Outcome.from_event(event)
    if candidate.precedence > state.precedence:
        return candidate if failure is None else dataclasses.replace(candidate, failure=failure)
    return state if failure is state.failure else dataclasses.replace(state, failure=failure)


def fold(events: Iterable[NormalizedEvent], state: DeliveryState = INITIAL) -> DeliveryState:
    """The state given a whole history, in any order, with any repetitions."""
    for event in events:
        state = merge(state, event)
    return state


def transitions(state: DeliveryState | None, events: Iterable[NormalizedEvent]) -> list[DeliveryState]:
    """The running status's changes as ``events`` are merged onto ``state`` one by one, in their order.

    ``state`` None: no delivery exists yet, so the first event makes one (a change even when
    its status is PENDING, as an unsubscribe leaves it). Each item is the state right after
    an event that changed the status; there is one per status change a subscriber is owed,
    whether the events came in one batch or in many, because the batches' results chain:
    transitions(s, a + b) == transitions(s, a) + transitions(fold(a, s), b). The fold's
    final state (fold(events, state)) may still move on without a change of status (a later
    bounce of the same rank): that is no transition.
    """
    changes: list[DeliveryState] = []
    running = state
    for event in events:
        after = merge(running or INITIAL, event)
        if running is None or after.status is not running.status:
            changes.append(after)
        running = after
    return changes


def history(events: Iterable[NormalizedEvent]) -> list[NormalizedEvent]:
    """A delivery's history: each distinct event once, oldest first.

    Ordered by (occurred_at, event_key) so that the history, like the status, is the same
    whatever order and however often the events arrived.
    """
    unique = {event.event_key: event for event in events}
    return sorted(unique.values(), key=lambda e: (e.occurred_at, e.event_key))



# Only a failure can be acknowledged: acknowledging says "we have seen this failure and
# dealt with it", which means nothing for a delivery that did not fail.
ACKNOWLEDGEABLE = frozenset({Status.ERROR, Status.BOUNCED, Status.COMPLAINT})


def can_acknowledge(status: Status) -> str | None:
    """None if a delivery in ``status`` may be acknowledged, else why not."""
    if status is Status.ACKNOWLEDGED:
        return "the delivery is already acknowledged"
    if status not in ACKNOWLEDGEABLE:
        return f"only ERROR, BOUNCED or COMPLAINT deliveries can be acknowledged; this one is {status.value}"
    return None
