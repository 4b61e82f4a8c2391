"""What a parser read of one body: its events, and the elements of a batch it could not read.

Providers that push several events in one POST (SendGrid's event array, Infobip's
``{"results": [...]}``, a Postmark array) are read element by element: one unreadable element
(not an object, an unreadable timestamp, a missing field) is set aside with its index and
reason, and the others' events stand. A body that is no batch at all (not JSON, not the
provider's shape) still raises PayloadError as a whole. Pure: the domain only.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from tracker.domain import NormalizedEvent
from tracker.providers.common.errors import PayloadError

# How many unreadable elements a description names one by one; the rest are counted.
NAMED = 10
# How much of each named reason a description keeps. A reason may quote its element (key_list's ten keys,
# each as long as the sender made it), so ten whole ones could pass the 4,000 characters an inbox error
# keeps and cut off what the row's failure says last: that the other elements were applied.
REASON_WIDTH = 300


@dataclasses.dataclass(frozen=True)
class Unreadable:
    """One element of a batch its parser could not read: its 0-based index and why (the
    reason names the element the provider's way, e.g. "SendGrid event [3]", "results[3]")."""

    index: int
    reason: str


@dataclasses.dataclass(frozen=True)
class Batch:
    """The events read from one body and the elements that could not be read.

    ``origins[i]`` is the index of the element ``events[i]`` came from (None when the body is
    one event, not a batch); ``size`` is how many elements the batch has (None: not a batch).
    """

    events: tuple[NormalizedEvent, ...]
    origins: tuple[int | None, ...]
    unreadable: tuple[Unreadable, ...] = ()
    size: int | None = None

    @classmethod
    def single(cls, events: Sequence[NormalizedEvent]) -> Batch:
        """The events of a body that is one event (or fails whole): nothing is set aside."""
        return cls(tuple(events), (None,) * len(events))

    @property
    def readable(self) -> int:
        """How many elements were read (a body that is no batch: 1)."""
        return 1 if self.size is None else self.size - len(self.unreadable)

    def problem(self) -> str | None:
        """What could not be read, for an error text and the sender's answer (None: everything was)."""
        return describe(self.unreadable, self.size or 0)

    def strict(self) -> list[NormalizedEvent]:
        """The events, or PayloadError naming the unreadable elements (the all-or-nothing reading;
        one is named by its own reason, as before batches were read element by element)."""
        if len(self.unreadable) == 1:
            raise PayloadError(self.unreadable[0].reason)
        if self.unreadable:
            raise PayloadError(self.problem())
        return list(self.events)


def read_each(items: Sequence[Any], read: Callable[[int, Any], Sequence[NormalizedEvent]]) -> Batch:
    """Read every element with ``read(index, item)``; an element it refuses (PayloadError) is set aside.

    Only PayloadError: anything else is a bug in the parser, which fails the whole body loudly
    (kind "internal" in the worker, with its traceback) rather than hiding in a reason.
    """
    events: list[NormalizedEvent] = []
    origins: list[int] = []
    unreadable: list[Unreadable] = []
    for index, item in enumerate(items):
        try:
            found = read(index, item)
        except PayloadError as error:
            unreadable.append(Unreadable(index, str(error)))
            continue
        events.extend(found)
        origins.extend([index] * len(found))
    return Batch(tuple(events), tuple(origins), tuple(unreadable), len(items))


def describe(unreadable: Sequence[Unreadable], size: int) -> str | None:
    """"k of n elements could not be read: reason; reason; ..." (None if there is none).

    One unreadable element of a one-element batch is said as before, by its reason alone.
    """
    if not unreadable:
        return None
    if size <= 1 and len(unreadable) == 1:
        return unreadable[0].reason
    named = "; ".join(f"[{item.index}] {_cut(item.reason)}" for item in unreadable[:NAMED])
    more = f"; and {len(unreadable) - NAMED} more" if len(unreadable) > NAMED else ""
    return f"{len(unreadable)} of {size} elements could not be read: {named}{more}"


def _cut(reason: str) -> str:
    return reason if len(reason) <= REASON_WIDTH else reason[:REASON_WIDTH - 1] + "…"
