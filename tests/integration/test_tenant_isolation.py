"""Account B's keys never see account A's data, through any of the read APIs (and the statistics)."""
from __future__ import annotations

import base64
import json

from tests.support.harness import drain, make_tenant
from tests.support.ses_events import a_moment_ago, bounce, for_message, recent
from tests.support.sns_signing import notification


def test_no_api_shows_one_account_another_accounts_deliveries(app, pki):
    a, b = make_tenant(app, "a", ["*"]), make_tenant(app, "b", ["*"])
    client = app.test_client()
    client.post("/api/v1/messages", json={"message_id": "m-a", "recipients": ["alice@example.com"],
                                          "bulkId": "bulk-a", "labelId": "7"}, headers=a.auth)
    sent = a_moment_ago()  # within every API's window (they count from the send time)
    for message in (recent(for_message("event/send.json", "m-a", ["alice@example.com"]), sent),
                    recent(bounce("m-a", "alice@example.com", "Permanent", "fb-a", "2026-11-20T10:00:00.000Z"), sent)):
        assert client.post(a.hook, data=json.dumps(pki.sign(notification(message)))).status_code == 200
    drain(app)
    [delivery] = client.get("/api/v1/deliveries", headers=a.auth).json["data"]

    def as_(tenant) -> dict:
        basic = base64.b64encode(f"user:{tenant.key}".encode()).decode()
        return {
            "native": client.get("/api/v1/deliveries", headers=tenant.auth).json["data"],
            "native history": client.get(f"/api/v1/deliveries/{delivery['id']}/events",
                                         headers=tenant.auth).status_code,
            "elevate": client.get("/v1/email-status", headers=tenant.auth).json,
            "infobip logs": client.get("/email/1/logs", headers={"Authorization": f"App {tenant.key}"}).json["results"],
            "infobip reports": client.get("/email/1/reports", query_string={"bulkId": "bulk-a"},
                                          headers={"Authorization": f"Basic {basic}"}).json["results"],
            "sendcloud": client.get("/apiv2/data/emailStatus", query_string={
                "apiUser": "u", "apiKey": tenant.key, "days": 1}).json["info"].get("voList", []),
            "postman": client.get("/v1/transactional/email", headers=tenant.auth).json["data"],
            "postman one": client.get(f"/v1/transactional/email/{delivery['id']}", headers=tenant.auth).status_code,
            "stats": client.get("/api/v1/stats", query_string={"interval": "day"}, headers=tenant.auth).json["data"],
            "reputation": client.get("/api/v1/reputation", headers=tenant.auth).json["domains"],
        }

    seen_by_b = as_(b)
    assert seen_by_b == {"native": [], "native history": 404, "elevate": [], "infobip logs": [],
                         "infobip reports": [], "sendcloud": [], "postman": [], "postman one": 404,
                         "stats": [], "reputation": []}
    seen_by_a = as_(a)
    assert all(seen_by_a[name] for name in ("native", "elevate", "infobip logs", "infobip reports", "sendcloud",
                                            "postman", "stats", "reputation"))
    assert (seen_by_a["native history"], seen_by_a["postman one"]) == (200, 200)
