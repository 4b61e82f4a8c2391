"""The worker's SQL per batch does not grow with the events in it: every write and read is set-based.

A batch of 60 events and one of 10 of the same kinds (sends, deliveries, soft bounces of
as many addresses, complaints) cost the same statements; one per event or per address
(a soft-bounce count each, a locked read each) would show as the difference.
"""
from __future__ import annotations

import json
from collections import Counter

from sqlalchemy import event

from tests.support.harness import make_tenant
from tests.support.ses_events import bounce, for_message
from tests.support.sns_signing import notification


def messages(n: int, prefix: str) -> list[dict]:
    found = []
    for i in range(n):
        message_id, delivered, bounced = f"{prefix}-{i}", f"d{i}@example.com", f"b{i}@example.com"
        found += [for_message("event/send.json", message_id, [delivered, bounced]),
                  for_message("event/delivery.json", message_id, [delivered],
                              delivery={"recipients": [delivered]}),
                  bounce(message_id, bounced, "Transient", f"fb-{prefix}-{i}", "2026-11-22T12:00:01.000Z")]
    return found


def statements_to_apply(app, pki, name: str, n: int) -> Counter:
    """Receive ``n`` messages' events for a new account, then apply them as one batch: its statements."""
    from tracker.pipeline import ingest

    tenant = make_tenant(app, name, ["*"])
    client = app.test_client()
    for message in messages(n, name):
        assert client.post(tenant.hook, data=json.dumps(pki.sign(notification(message)))).status_code == 200
    services = app.extensions["tracker"]
    seen: Counter = Counter()

    def count(conn, cursor, statement, parameters, context, executemany):
        seen[" ".join(statement.split()[:3])] += 1

    event.listen(services.db.engine, "before_cursor_execute", count)
    try:
        result = ingest.process_pending(services.db, services.confirmer, services.settings)
    finally:
        event.remove(services.db.engine, "before_cursor_execute", count)
    assert result.processed == 3 * n and result.failed == 0
    return seen


def test_a_batch_six_times_larger_costs_the_same_statements(app, pki):
    small = statements_to_apply(app, pki, "small", 10)
    large = statements_to_apply(app, pki, "large", 60)
    assert large == small, (large - small, small - large)
    assert sum(large.values()) < 40, large  # a handful per kind of write, nowhere near one per event (180)
