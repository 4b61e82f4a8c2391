"""Every list query of every read API is served by an index, whatever its filters and depth.

Each request's SQL is captured and planned by PostgreSQL with sequential scans priced out
(enable_seqscan off): a plan that still scans a big table sequentially has no index it
could use, and would read the whole account (or every account) on 1M deliveries.
"""
from __future__ import annotations

import json

import pytest
from sqlalchemy import event

from tests.support.harness import drain, make_tenant
from tests.support.plans import plan_without_seqscan, reads_into
from tests.support.ses_events import bounce, for_message
from tests.support.sns_signing import notification

BIG_TABLES = ("deliveries", "delivery_events", "messages", "inbox_events", "suppressions", "webhook_events")


@pytest.fixture
def seeded(app, pki):
    tenant = make_tenant(app, "acme", ["*"])
    client = app.test_client()
    for n in range(3):
        message_id, recipient = f"m-{n}", f"user{n}@example.com"
        client.post("/api/v1/messages", json={"message_id": message_id, "recipients": [recipient],
                                              "bulkId": "bulk-1", "billRunType": "NORMAL"}, headers=tenant.auth)
        for message in (for_message("event/send.json", message_id, [recipient]),
                        bounce(message_id, recipient, "Permanent", f"fb-{n}", "2026-11-20T10:00:00.000Z")):
            assert client.post(tenant.hook, data=json.dumps(pki.sign(notification(message)))).status_code == 200
    drain(app)
    return tenant


def requests(tenant, delivery_id: int, cursor: str) -> dict[str, tuple[str, dict, dict]]:
    bearer, app_key = tenant.auth, {"Authorization": f"App {tenant.key}"}
    sendcloud = {"apiUser": "u", "apiKey": tenant.key, "days": 1}
    return {
        "native": ("/api/v1/deliveries", {"limit": 2}, bearer),
        "native, next page": ("/api/v1/deliveries", {"limit": 2, "cursor": cursor}, bearer),
        "native, by status": ("/api/v1/deliveries", {"status": "BOUNCED"}, bearer),
        "native, by recipient": ("/api/v1/deliveries", {"recipient": "user1@example.com"}, bearer),
        "native, by message": ("/api/v1/deliveries", {"message_id": "m-1"}, bearer),
        "native, history": (f"/api/v1/deliveries/{delivery_id}/events", {}, bearer),
        "elevate": ("/v1/email-status", {}, bearer),
        "elevate, page 2": ("/v1/email-status", {"page": 2, "pageSize": 1}, bearer),
        "elevate, by updated": ("/v1/email-status", {"sort": "updatedDateTime:desc"}, bearer),
        "elevate, by recipient": ("/v1/email-status", {"sort": "recipientEmail"}, bearer),
        "elevate, by created": ("/v1/email-status", {"createdDateTime": "gt:2020-01-01T00:00:00Z"}, bearer),
        "postman": ("/v1/transactional/email", {}, bearer),
        "postman, offset": ("/v1/transactional/email", {"offset": 1, "limit": 1}, bearer),
        "postman, by updated": ("/v1/transactional/email", {"sort_by": "+updated_at"}, bearer),
        "postman, one": (f"/v1/transactional/email/{delivery_id}", {}, bearer),
        "sendcloud": ("/apiv2/data/emailStatus", sendcloud, {}),
        "sendcloud, start": ("/apiv2/data/emailStatus", {**sendcloud, "start": 1, "limit": 1}, {}),
        "sendcloud, by email": ("/apiv2/data/emailStatus", {**sendcloud, "email": "user1@example.com"}, {}),
        "infobip logs": ("/email/1/logs", {}, app_key),
        "infobip logs, by message": ("/email/1/logs", {"messageId": "m-1"}, app_key),
        "infobip logs, by recipient": ("/email/1/logs", {"to": "user1@example.com"}, app_key),
        "infobip reports": ("/email/1/reports", {"limit": 2}, app_key),
        "suppressions": ("/api/v1/suppressions", {}, bearer),
    }


def test_no_list_query_scans_a_big_table(app, seeded, pg_db):
    client = app.test_client()
    first = client.get("/api/v1/deliveries", query_string={"limit": 2}, headers=seeded.auth).json
    engine = app.extensions["tracker"].db.engine
    scans = {}
    for name, (path, params, headers) in requests(seeded, first["data"][0]["id"], first["next_cursor"]).items():
        captured = []
        capture = reads_into(captured)
        event.listen(engine, "before_cursor_execute", capture)
        try:
            response = client.get(path, query_string=params, headers=headers)
        finally:
            event.remove(engine, "before_cursor_execute", capture)
        assert response.status_code == 200, (name, response.get_data(as_text=True))
        assert captured, name
        scans[name] = sorted({table for statement, parameters in captured
                              for table in sequential_scans(pg_db, statement, parameters)})
    assert {name: tables for name, tables in scans.items() if tables} == {}


def sequential_scans(pg_db, statement: str, parameters) -> list[str]:
    plan = plan_without_seqscan(pg_db, statement, parameters)
    return [table for table in BIG_TABLES if f"Seq Scan on {table} " in plan]


def test_the_check_sees_a_query_no_index_serves(app, seeded, pg_db):
    assert sequential_scans(pg_db, "SELECT * FROM deliveries WHERE diagnostic = %(d)s", {"d": "x"}) == ["deliveries"]
