"""Events received per provider and hour, with the hours already over remembered by the app.

A raw event's received_at is the time it was stored, so once an hour is over (and a grace
for transactions still committing has passed) its counts never change. Counting 30 days of
inbox rows on every view would read every row of the month; instead each app instance
counts the closed hours once, keeps them, and on each view counts only the rows since the
last closed hour. The cost of a view is then bounded by an hour of traffic, whatever the
month held. Days are sums of their hours.
"""
from __future__ import annotations

import dataclasses
import threading
from collections import defaultdict
from datetime import datetime, timedelta

from tracker.db import repository

# Rows are stored with received_at = now in the receiving transaction; one still committing
# when its hour ends becomes visible a little later. Hours are closed only after this grace.
GRACE = timedelta(minutes=5)
HOUR = timedelta(hours=1)


@dataclasses.dataclass
class _Closed:
    until: datetime  # every hour before this one is in counts
    counts: dict[tuple[str, datetime], int]


class ReceivedCounts:
    """One app's memory of closed hours, per account (each app has its own database)."""

    def __init__(self) -> None:
        self._closed: dict[int, _Closed] = {}
        self._lock = threading.Lock()

    def hourly(self, session, account_id: int, since: datetime, now: datetime) -> dict[tuple[str, datetime], int]:
        """(provider, hour start) -> events received, for every hour from ``since`` (an hour start) to now."""
        boundary = _hour(now - GRACE)
        with self._lock:
            closed = self._closed.get(account_id)
            if closed is None or closed.until < since:
                closed = _Closed(since, {})
            if closed.until < boundary:
                for bucket in repository.provider_buckets(session, account_id, closed.until, "hour", boundary):
                    closed.counts[(bucket.provider, bucket.start)] = bucket.count
                closed.until = boundary
            closed.counts = {key: n for key, n in closed.counts.items() if key[1] >= since}
            self._closed[account_id] = closed
            counts = dict(closed.counts)
        for bucket in repository.provider_buckets(session, account_id, max(closed.until, since), "hour"):
            counts[(bucket.provider, bucket.start)] = counts.get((bucket.provider, bucket.start), 0) + bucket.count
        return counts


def by_day(hourly: dict[tuple[str, datetime], int]) -> dict[tuple[str, datetime], int]:
    days: dict[tuple[str, datetime], int] = defaultdict(int)
    for (provider, hour), n in hourly.items():
        days[(provider, hour.replace(hour=0))] += n
    return dict(days)


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)
