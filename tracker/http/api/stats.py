"""The native statistics API: /api/v1/stats (time series) and /api/v1/reputation (rates and states)."""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, g, jsonify, request
from marshmallow import Schema, fields, validate

from tracker.db import repository
from tracker.db.models import utcnow
from tracker.domain import reputation
from tracker.http import moments
from tracker.http.api.native import load_args
from tracker.http.api.schemas import UtcDateTime
from tracker.http.auth import require_key
from tracker.services import services

blueprint = Blueprint("stats_api", __name__, url_prefix="/api/v1")

# The default span per interval. No longest one: only buckets with deliveries are answered,
# so an answer is never larger than the account's statistics, however long the span.
SPANS = {"hour": timedelta(hours=24), "day": timedelta(days=30)}
WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7)}


class StatsQuery(Schema):
    """GET /api/v1/stats: deliveries sent in [from, to), by send hour, per interval and group (from
    at or after to: no bucket)."""

    from_ = UtcDateTime(data_key="from", metadata={"description": "start (ISO 8601, UTC if no zone; rounded "
                                                                   "down to the hour); default: to minus 24 h "
                                                                   "(hour) or 30 days (day)"})
    to = UtcDateTime(metadata={"description": "end, excluded (default: now)"})
    interval = fields.String(load_default="hour", validate=validate.OneOf(list(SPANS)))
    group_by = fields.String(load_default="status", validate=validate.OneOf(["status", "provider", "domain",
                                                                             "outcome"]))


class ReputationQuery(Schema):
    window = fields.String(load_default="24h", validate=validate.OneOf(list(WINDOWS)),
                           metadata={"description": "deliveries sent in the last 24 hours or 7 days"})


class BucketSchema(Schema):
    start = fields.DateTime(required=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True,
                         metadata={"description": "deliveries per group; groups with none left out"})


class StatsSchema(Schema):
    start = fields.DateTime(data_key="from", required=True)
    end = fields.DateTime(data_key="to", required=True)
    interval = fields.String(required=True)
    group_by = fields.String(required=True)
    data = fields.List(fields.Nested(BucketSchema), required=True)


_STATES = [state.value for state in reputation.State]


class RatesSchema(Schema):
    """A scope's counts, rates (fractions: 0.05 is 5%) and states."""

    domain = fields.String(allow_none=True, metadata={"description": "the sending domain (null: unknown From); "
                                                                     "absent for the whole account"})
    sent = fields.Integer(required=True)
    delivered = fields.Integer(required=True)
    hard_bounces = fields.Integer(required=True)
    soft_bounces = fields.Integer(required=True)
    complaints = fields.Integer(required=True)
    bounce_rate = fields.Float(required=True)
    complaint_rate = fields.Float(required=True)
    bounce_state = fields.String(required=True, validate=validate.OneOf(_STATES))
    complaint_state = fields.String(required=True, validate=validate.OneOf(_STATES))
    state = fields.String(required=True, validate=validate.OneOf(_STATES))


class ThresholdsSchema(Schema):
    bounce_warning = fields.Float(required=True)
    bounce_at_risk = fields.Float(required=True)
    complaint_warning = fields.Float(required=True)
    complaint_at_risk = fields.Float(required=True)
    min_sent = fields.Integer(required=True)


class ReputationSchema(Schema):
    window = fields.String(required=True)
    since = fields.DateTime(required=True)
    thresholds = fields.Nested(ThresholdsSchema, required=True)
    account = fields.Nested(RatesSchema, required=True)
    domains = fields.List(fields.Nested(RatesSchema), required=True)


_stats_query, _reputation_query = StatsQuery(), ReputationQuery()
_stats, _reputation = StatsSchema(), ReputationSchema()


@blueprint.get("/stats")
@require_key
def stats():
    args = load_args(_stats_query, request.args)
    interval = args["interval"]
    end = args.get("to") or utcnow()
    start = args.get("from_") or _minus(end, SPANS[interval])
    with services().db.session() as session:
        points = repository.time_series(session, g.account_id, start, end, interval, args["group_by"])
    buckets: dict[datetime, dict[str, int]] = {}
    for point in points:
        buckets.setdefault(point.start, {})[point.group or ""] = point.count
    return jsonify(_stats.dump({"start": start, "end": end, "interval": interval, "group_by": args["group_by"],
                                "data": [{"start": at, "counts": counts} for at, counts in buckets.items()]}))


@blueprint.get("/reputation")
@require_key
def reputation_view():
    args = load_args(_reputation_query, request.args)
    since = utcnow() - WINDOWS[args["window"]]
    with services().db.session() as session:
        counts = repository.reputation_counts(session, g.account_id, since)
        thresholds = repository.thresholds_of(session, g.account_id)
    return jsonify(_reputation.dump({
        "window": args["window"], "since": since, "thresholds": thresholds,
        "account": _rates(reputation.rates(counts.account, thresholds)),
        "domains": [{"domain": domain or None, **_rates(reputation.rates(found, thresholds))}
                    for domain, found in counts.domains.items()],
    }))


def _rates(found: reputation.Reputation) -> dict:
    return {"sent": found.sent, "delivered": found.delivered, "hard_bounces": found.hard_bounces,
            "soft_bounces": found.soft_bounces, "complaints": found.complaints, "bounce_rate": found.bounce_rate,
            "complaint_rate": found.complaint_rate, "bounce_state": found.bounce_state.value,
            "complaint_state": found.complaint_state.value, "state": found.state.value}


def _minus(moment: datetime, span: timedelta) -> datetime:
    try:
        return moment - span
    except OverflowError:  # a "to" near year 1: the series starts at the earliest moment there is
        return moments.EARLIEST
