"""Engagement of a delivery: how often and when it was opened and clicked, and the last link."""
from __future__ import annotations

import dataclasses
from datetime import datetime
from collections.abc import Iterable

from tracker.domain.events import EventType, NormalizedEvent

# Where parsers keep the followed link, by provider vocabulary (SES "link", most others
# "url", Postmark "OriginalLink").
_LINK_KEYS = ("link", "url", "OriginalLink")


@dataclasses.dataclass(frozen=True)
class Engagement:
    """Aggregates over distinct open and click events; merging two is commutative."""

    opens: int = 0
    first_opened_at: datetime | None = None
    last_opened_at: datetime | None = None
    clicks: int = 0
    first_clicked_at: datetime | None = None
    last_clicked_at: datetime | None = None
    last_clicked_link: str | None = None

    @property
    def any(self) -> bool:
        return bool(self.opens or self.clicks)


def clicked_link(event: NormalizedEvent) -> str | None:
    for key in _LINK_KEYS:
        value = event.details.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def engagement(events: Iterable[NormalizedEvent]) -> Engagement:
    """The engagement a set of distinct events shows (each event counted once by the caller)."""
    opens = [e for e in events if e.type in (EventType.OPENED, EventType.CLICKED)]
    opened = sorted((e for e in opens if e.type is EventType.OPENED), key=_order)
    clicked = sorted((e for e in opens if e.type is EventType.CLICKED), key=_order)
    return Engagement(
        opens=len(opened),
        first_opened_at=opened[0].occurred_at if opened else None,
        last_opened_at=opened[-1].occurred_at if opened else None,
        clicks=len(clicked),
        first_clicked_at=clicked[0].occurred_at if clicked else None,
        last_clicked_at=clicked[-1].occurred_at if clicked else None,
        last_clicked_link=clicked_link(clicked[-1]) if clicked else None,
    )


def _order(event: NormalizedEvent):
    return event.occurred_at, event.event_key


@dataclasses.dataclass(frozen=True)
class Milestones:
    """When a delivery was sent and first delivered, and the first thing that happened to it.

    ``sent_at``: the earliest send time a provider stated (an event's ``sent_at``) or a send
    event's time; ``first_event_at``: the earliest event (an acknowledgement aside: it is the
    application's act, not something that happened to the email).
    """

    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    first_event_at: datetime | None = None


def milestones(events: Iterable[NormalizedEvent]) -> Milestones:
    events = list(events)
    sent = [e.occurred_at for e in events if e.type is EventType.SENT] + [e.sent_at for e in events if e.sent_at]
    delivered = [e.occurred_at for e in events if e.type is EventType.DELIVERED]
    happened = [e.occurred_at for e in events if e.type is not EventType.ACKNOWLEDGED]
    return Milestones(min(sent, default=None), min(delivered, default=None), min(happened, default=None))
