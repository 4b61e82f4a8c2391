"""Prometheus metrics: counters kept by the processes that do the work, gauges read from the database.

Counters live in the process that counts (receivers in gunicorn workers, transitions in
Celery workers). Set PROMETHEUS_MULTIPROC_DIR to a directory shared by the processes of a
host and /metrics aggregates them (prometheus-client's multiprocess mode); without it each
process reports its own. Gauges (inbox rows by state, processing lag, webhook events by
state) are read from the database at scrape time, so every /metrics tells the same truth.
"""
from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily

EVENTS_RECEIVED = Counter("tracker_events_received_total", "Events accepted and stored, by provider",
                          ["provider"])
EVENTS_REFUSED = Counter("tracker_events_refused_total", "Requests refused, by provider and reason",
                         ["provider", "reason"])
ROWS_PROCESSED = Counter("tracker_inbox_rows_total", "Inbox rows handled by workers, by outcome",
                         ["outcome"])
STATUS_TRANSITIONS = Counter("tracker_status_transitions_total", "Delivery status changes, by new status",
                             ["status"])
WEBHOOK_DELIVERIES = Counter("tracker_webhook_deliveries_total", "Outbound webhook attempts, by outcome",
                             ["outcome"])


def inbox_figures(db) -> tuple[dict[str, int], float | None]:
    """Inbox rows per state and the age in seconds of the oldest pending row, read from the database now.

    Read at scrape time from the one place every process shares, the gauge tells the same
    truth whichever gunicorn worker or worker process answers the scrape.
    """
    from tracker.domain import inbox
    from tracker.db import repository
    from tracker.db.models import utcnow

    with db.session() as session:
        counts = repository.inbox_counts(session)
        oldest = repository.oldest_pending_received_at(session)
    for state in inbox.STATES:
        counts.setdefault(state, 0)
    return counts, (utcnow() - oldest).total_seconds() if oldest else None


class InboxCollector:
    """Gauges read from the inbox at scrape time: rows per state and the age of the oldest pending one."""

    def __init__(self, read):
        self._read = read  # () -> (counts by state, oldest pending age in seconds or None)

    def collect(self):
        counts, lag = self._read()
        rows = GaugeMetricFamily("tracker_inbox_events", "Inbox rows by state", labels=["state"])
        for state, count in sorted(counts.items()):
            rows.add_metric([state], count)
        yield rows
        yield GaugeMetricFamily("tracker_processing_lag_seconds",
                                "Age of the oldest pending inbox row (0 when none is pending)", value=lag or 0.0)


class OutboxCollector:
    """Outbound webhook events by state, read at scrape time: parked ones wait for an operator."""

    def __init__(self, read):
        self._read = read  # () -> counts by state

    def collect(self):
        events = GaugeMetricFamily("tracker_webhook_events", "Outbound webhook events by state", labels=["state"])
        for state, count in sorted(self._read().items()):
            events.add_metric([state], count)
        yield events


class ReputationCollector:
    """Each account's bounce and complaint rates and states, as last evaluated, read at scrape time.

    Read from the database, not kept in a process: every gunicorn worker answers the same,
    so the multiprocess mode needs no gauge aggregation rule for them.
    """

    LEVELS = {"healthy": 0, "warning": 1, "at_risk": 2}

    def __init__(self, read):
        self._read = read  # () -> [(account name, bounce_state, complaint_state, bounce_rate, complaint_rate)]

    def collect(self):
        rates = GaugeMetricFamily("tracker_reputation_rate", "Rate over deliveries sent in the last 24 h, per "
                                  "account (fraction)", labels=["account", "metric"])
        states = GaugeMetricFamily("tracker_reputation_state", "Reputation state per account: 0 healthy, "
                                   "1 warning, 2 at risk", labels=["account", "metric"])
        for account, bounce_state, complaint_state, bounce_rate, complaint_rate in self._read():
            rates.add_metric([account, "bounce"], bounce_rate)
            rates.add_metric([account, "complaint"], complaint_rate)
            states.add_metric([account, "bounce"], self.LEVELS.get(bounce_state, 0))
            states.add_metric([account, "complaint"], self.LEVELS.get(complaint_state, 0))
        yield rates
        yield states


def exposition(read_inbox, read_outbox=None, read_reputation=None) -> bytes:
    """The text a scrape gets: this process's (or every process's) counters plus the database gauges."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        for collector in (EVENTS_RECEIVED, EVENTS_REFUSED, ROWS_PROCESSED, STATUS_TRANSITIONS, WEBHOOK_DELIVERIES):
            registry.register(collector)
    registry.register(InboxCollector(read_inbox))
    if read_outbox is not None:
        registry.register(OutboxCollector(read_outbox))
    if read_reputation is not None:
        registry.register(ReputationCollector(read_reputation))
    return generate_latest(registry)
