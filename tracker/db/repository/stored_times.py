"""Times read as stored: naive UTC, for rows that go straight to a renderer.

UTCDateTime gives every time it reads its zone, a Python call per value through SQLAlchemy's
type processing: on a 100-row page of six times, 600 calls, about a tenth of the request. A
list whose rows are only written out reads its times as stored instead, and its renderer
writes them as UTC (tracker.http.moments.written, tracker.http.json_out). Rows whose times
the domain compares keep UTCDateTime's aware times; Infobip's logs and reports reach it only to
pick the outcome shown (state_of, DeliveryState.shown), which compares no time, and read theirs
as stored too.
"""
from __future__ import annotations

from sqlalchemy import DateTime, type_coerce

from tracker.db.models import UTCDateTime

__all__ = ["as_stored"]


def as_stored(*columns) -> list:
    """``columns``, each UTC time among them read as stored (naive UTC) under its own key."""
    return [type_coerce(column, DateTime()).label(column.key) if isinstance(column.type, UTCDateTime) else column
            for column in columns]
