"""Times given in query parameters (and cursors): ISO 8601, UTC when they name no zone, in range.

Every API style reads its time filters through ``parse``, after its own spelling rules. A
moment must fall within Python's years 1-9999 once in UTC (0001-01-01T00:00+14:00 is year 0
in UTC), and ``add`` stops at the end of year 9999 instead of overflowing, so no filter
value can make a view raise.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

LATEST = datetime.max.replace(tzinfo=timezone.utc)
# An unencoded "+" of a zone offset arrives as a space: 2019-08-24T14:15:22 01:00.
_SPACE_FOR_PLUS = re.compile(r"(T[\d:.]+) (\d\d(:?\d\d)?)$")


def parse(raw: str) -> datetime:
    """An aware UTC datetime, or ValueError (not ISO 8601, or out of range)."""
    value = _SPACE_FOR_PLUS.sub(r"\1+\2", raw.strip())
    return in_range(datetime.fromisoformat(value))


def in_range(moment: datetime) -> datetime:
    """``moment`` in UTC (UTC assumed when naive), or ValueError when UTC has no such year."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError("out of range") from None


def add(moment: datetime, delta: timedelta) -> datetime:
    """``moment + delta``, or the last moment of year 9999 past it."""
    return moment + delta if moment < LATEST - delta else LATEST
