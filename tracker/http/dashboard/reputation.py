"""Reputation: bounce and complaint rates per sending domain and for the account, against their thresholds.

Counts come from the statistics kept as events are applied (tracker.db.repository.stats);
the rates, thresholds and states are tracker.domain.reputation's, exactly as the
/api/v1/reputation API computes them.
"""
from __future__ import annotations

from datetime import timedelta

from flask import g, request

from tracker.db import repository
from tracker.db.models import utcnow
from tracker.db.repository.stats import reputation_counts, time_series
from tracker.domain.reputation import rates
from tracker.http.dashboard import charts
from tracker.http.dashboard.base import blueprint, db, page

WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7)}
# The daily chart's days: a day's statistics rows are hours x domains x providers x outcomes, so
# a month of a busy account costs a view tens of milliseconds; two weeks show the trend.
DAYS = 14
ACCOUNT = "whole account"


@blueprint.get("/reputation")
def reputation_page():
    window = request.args.get("window", "24h")
    if window not in WINDOWS:
        window = "24h"
    now = utcnow()
    days = charts.buckets(now, timedelta(days=1), DAYS)
    with db().session() as session:
        counts = reputation_counts(session, g.account_id, now - WINDOWS[window])
        thresholds = repository.thresholds_of(session, g.account_id)
        daily = time_series(session, g.account_id, days[0], now, "day", "outcome")
    account = rates(counts.account, thresholds)
    domains = [(domain or "(unknown sender)", rates(found, thresholds)) for domain, found in counts.domains.items()]
    scopes = [(ACCOUNT, account), *domains]
    per_day: dict = {}
    for point in daily:
        per_day.setdefault(point.start, {})[point.group] = point.count
    by_day = [(day, rates(per_day.get(day, {}), thresholds)) for day in days]
    return page(
        "reputation.html", window=window, windows=list(WINDOWS), thresholds=thresholds, account=account,
        scopes=scopes,
        bounce=charts.rate_rows([(name, r.bounce_rate, r.bounce_state.value) for name, r in scopes],
                                thresholds.bounce_warning, thresholds.bounce_at_risk),
        complaint=charts.rate_rows([(name, r.complaint_rate, r.complaint_state.value) for name, r in scopes],
                                   thresholds.complaint_warning, thresholds.complaint_at_risk),
        daily_bounce=charts.rate_rows([(day.strftime("%m-%d"), r.bounce_rate, r.bounce_state.value)
                                       for day, r in by_day if r.sent],
                                      thresholds.bounce_warning, thresholds.bounce_at_risk),
    )
