"""The overview: events received per provider (24 h by hour, 30 days by day), statuses, backlog, failures."""
from __future__ import annotations

from datetime import timedelta

from flask import current_app, g

from tracker.db import repository
from tracker.db.models import utcnow
from tracker.domain.status import Status
from tracker.http.dashboard import charts, received
from tracker.http.dashboard.base import blueprint, db, page

HOURS, DAYS = 24, 30
# The statuses' longer window: the reputation API's longest. A month of statistics rows of a
# busy account (hours x domains x providers x statuses) costs a view tens of milliseconds more.
STATUS_DAYS = 7


@blueprint.get("")
def overview():
    """The account at a glance: events received per provider, statuses, backlog, failed and parked events."""
    now = utcnow()
    hours = charts.buckets(now, timedelta(hours=1), HOURS)
    days = charts.buckets(now, timedelta(days=1), DAYS)
    with db().session() as session:
        hourly = current_app.extensions["dashboard_received"].hourly(session, g.account_id, days[0], now)
        # Exact counts from the statistics table (kept as events are applied): the deliveries sent in
        # the window, by the status each has now. A few rows per hour, whatever the volume.
        week = hours[-1] - timedelta(days=STATUS_DAYS) + timedelta(hours=1)
        sent = repository.time_series(session, g.account_id, week, hours[-1] + timedelta(hours=1), "hour", "status")
        oldest_pending = repository.oldest_pending_of_account(session, g.account_id)
        failed = repository.failed_count(session, g.account_id)
        parked = repository.parked_webhook_count(session, g.account_id)
    statuses = {status.value: [0, 0] for status in Status}  # status -> [last 24 h, last STATUS_DAYS days]
    for point in sent:
        counts = statuses.setdefault(point.group, [0, 0])
        counts[1] += point.count
        if point.start >= hours[0]:
            counts[0] += point.count
    last_day = {key: n for key, n in hourly.items() if key[1] >= hours[0]}
    return page(
        "overview.html",
        hourly=charts.stacked(hours, last_day, "%H:00", 3),
        daily=charts.stacked(days, received.by_day(hourly), "%m-%d", 5),
        statuses=statuses, status_days=STATUS_DAYS, oldest_pending=oldest_pending, failed=failed, parked=parked,
    )
