"""Times given in query parameters (and cursors): ISO 8601, UTC when they name no zone.

Every API style reads its time filters through ``parse``, after its own spelling rules. A
moment whose zone takes it past Python's years 1-9999 once in UTC (0001-01-01T00:00+14:00
is year 0 in UTC) is held at the edge: the tracker stores no time out there, so a filter
bound to the edge selects exactly what the moment would. ``add`` stops at the end of year
9999 likewise, so no filter value can make a view overflow.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, UTC

from tracker.db.repository.compat_filters import Span

EARLIEST = datetime.min.replace(tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)
# An unencoded "+" of a zone offset arrives as a space: 2019-08-24T14:15:22 01:00.
_SPACE_FOR_PLUS = re.compile(r"(T[\d:.]+) (\d\d(:?\d\d)?)$")


def parse(raw: str) -> datetime:
    """An aware UTC datetime, or ValueError (not ISO 8601)."""
    return in_utc(datetime.fromisoformat(plus_restored(raw.strip())))


def plus_restored(raw: str) -> str:
    """``raw`` with the "+" of its zone offset back where a query string's decoding made it a space."""
    return _SPACE_FOR_PLUS.sub(r"\1+\2", raw)


def in_utc(moment: datetime) -> datetime:
    """``moment`` in UTC (UTC assumed when naive), held within years 1-9999."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # the zone took it past an end of the calendar: which one, its offset says
        return LATEST if moment.utcoffset() < timedelta(0) else EARLIEST


def add(moment: datetime, delta: timedelta) -> datetime:
    """``moment + delta``, or the last moment of year 9999 past it."""
    return moment + delta if moment < LATEST - delta else LATEST


# --- comparing at the precision an API shows --------------------------------------------------
# Times are stored to the microsecond; Elevate shows them to the second, Infobip and Postman to
# the millisecond. A filter compares what the client saw: the time given is read at the API's
# precision (finer digits dropped) and compared with each row's time as shown, so that
# "after the last time I saw" is exactly the rows shown later, never one shown equal.
SECOND = timedelta(seconds=1)
MILLISECOND = timedelta(milliseconds=1)


def truncated(moment: datetime, precision: timedelta) -> datetime:
    """``moment`` as an API showing ``precision`` (a divisor of a second) writes it."""
    step = precision // timedelta(microseconds=1)
    return moment.replace(microsecond=moment.microsecond - moment.microsecond % step)


def shown_after(moment: datetime, precision: timedelta) -> Span:
    """The stored times that, shown at ``precision``, are later than ``moment`` read at it."""
    return Span(start=add(truncated(moment, precision), precision))


def shown_from(moment: datetime, precision: timedelta) -> Span:
    """The stored times that, shown at ``precision``, are ``moment`` or later."""
    return Span(start=truncated(moment, precision))


def shown_before(moment: datetime, precision: timedelta) -> Span:
    """The stored times that, shown at ``precision``, are earlier than ``moment``."""
    return Span(end=truncated(moment, precision))


def shown_until(moment: datetime, precision: timedelta) -> Span:
    """The stored times that, shown at ``precision``, are ``moment`` or earlier."""
    return Span(end=add(truncated(moment, precision), precision))


def shown_at(moment: datetime, precision: timedelta) -> Span:
    """The stored times that, shown at ``precision``, are ``moment``."""
    return Span(start=truncated(moment, precision), end=add(truncated(moment, precision), precision))


# --- writing times as an API shows them -------------------------------------------------------


def written(moment: datetime, timespec: str, zone: str = "Z") -> str:
    """``moment`` in UTC, ISO 8601 to ``timespec`` ("seconds", "milliseconds"), then ``zone``:
    2024-09-02T01:34:37.342Z. isoformat and a slice: a list page writes several times a row,
    and strftime costs several times as much. A naive ``moment`` is a time as stored, in UTC
    (tracker.db.repository.stored_times)."""
    # isoformat's arguments positional: as keywords they make a call 40% dearer (Postman writes five a row).
    if moment.tzinfo is None:
        return moment.isoformat("T", timespec) + zone
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.isoformat("T", timespec)[:-6] + zone  # an aware time's isoformat ends "+00:00"
