"""Lenient parsing of the timestamps providers put in their payloads."""
from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone, UTC

# ISO 8601 as providers actually write it: "T" or a space between date and time, optional
# fraction, and "Z", "+00:00", "+0000" or "+00" with or without a space before it (SES
# documents "2018-10-08T14:05:45 +0000").
_ISO = re.compile(
    r"""
    (?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})
    [Tt\ ]
    (?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2})
    (?:[.,](?P<fraction>\d+))?
    \ *
    (?:(?P<utc>[Zz])|(?P<sign>[+-])(?P<off_hour>\d{2})(?::?(?P<off_minute>\d{2}))?)?
    """,
    re.VERBOSE,
)
_EPOCH = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")

_EXPECTED = (
    "expected ISO 8601 such as 2016-01-27T14:59:38.237Z or 2018-10-08T14:05:45 +0000, "
    "or epoch seconds"
)


def parse_timestamp(value: str | int | float) -> datetime:
    """An aware UTC datetime from an ISO 8601 string or epoch seconds (number or numeric string).

    A string without a zone is taken as UTC, which is what every provider we read sends.
    Raises ValueError, naming the value, for anything else.
    """
    if isinstance(value, bool):  # bool is an int, but True is no timestamp
        raise ValueError(f"not a timestamp: {value!r}; {_EXPECTED}")
    if isinstance(value, (int, float)):
        return _from_epoch(value, value)
    if isinstance(value, str):
        if _common_shape(value):
            try:
                return datetime.fromisoformat(value)  # Python 3.11 reads the Z as UTC
            except ValueError:
                pass  # the pattern below says what is wrong with it
        text = value.strip()
        if _EPOCH.fullmatch(text):
            return _from_epoch(float(text), value)
        match = _ISO.fullmatch(text)
        if match:
            return _from_iso(match, value)
    raise ValueError(f"not a timestamp: {value!r}; {_EXPECTED}")


def _common_shape(value: str) -> bool:
    """Whether ``value`` has the shape nearly every event's times have (SES's 2016-01-27T14:59:38.237Z),
    which datetime.fromisoformat reads in C about ten times faster than the pattern. Only that exact
    shape, in ASCII, and not hour 24 (which Python 3.12 reads as the next day's midnight): whatever
    fromisoformat then accepts, the pattern reads as the same moment."""
    return (len(value) == 24 and value[23] == "Z" and value[19] == "." and value[10] == "T" and value[4] == "-"
            and value[7] == "-" and value[13] == ":" and value[16] == ":" and value[11:13] != "24"
            and value.isascii())


def _from_epoch(seconds: int | float, original: object) -> datetime:
    if isinstance(seconds, float) and not math.isfinite(seconds):
        raise ValueError(f"not a timestamp: {original!r}; {_EXPECTED}")
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise ValueError(f"timestamp out of range: {original!r} ({exc})") from None


def _from_iso(match: re.Match[str], original: str) -> datetime:
    fields = match.groupdict()
    # Sub-microsecond digits (some providers send nanoseconds) are truncated, not rounded,
    # so a timestamp never moves into the next second.
    microsecond = int((fields["fraction"] or "0")[:6].ljust(6, "0"))
    try:
        zone = UTC
        if fields["sign"]:
            off_minute = int(fields["off_minute"] or 0)
            if off_minute >= 60:
                raise ValueError(f"offset minutes must be below 60, got {off_minute}")
            offset = timedelta(hours=int(fields["off_hour"]), minutes=off_minute)
            zone = timezone(-offset if fields["sign"] == "-" else offset)
        parsed = datetime(
            int(fields["year"]),
            int(fields["month"]),
            int(fields["day"]),
            int(fields["hour"]),
            int(fields["minute"]),
            int(fields["second"]),
            microsecond,
            tzinfo=zone,
        )
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise ValueError(f"not a valid timestamp: {original!r} ({exc})") from None
