"""State is computed once: every API renders an acknowledged delivery from its row, never its history.

An acknowledged delivery shows, in the styles that have no acknowledged status, as the
failure it acknowledged. That failure is the domain's fold, stored on the delivery row; so
deleting the delivery's history must change nothing any API answers.
"""
from __future__ import annotations

import json

from sqlalchemy import delete

from tests.support.harness import drain
from tests.support.ses_events import a_moment_ago, bounce, for_message, recent
from tests.support.sns_signing import notification
from tracker.db.models import DeliveryEvent


def _acknowledged_failures(app, tenant, pki) -> None:
    """A hard bounce after a reject and a delivery, and a rejection, each then acknowledged."""
    client = app.test_client()
    sent = a_moment_ago()  # within every API's window (they count from the send time)
    messages = [
        recent(for_message("event/send.json", "m-bounce", ["bounced@example.com"]), sent),
        recent(for_message("event/delivery.json", "m-bounce", ["bounced@example.com"],
                           delivery={"recipients": ["bounced@example.com"]}), sent),
        recent(for_message("event/reject.json", "m-bounce", ["bounced@example.com"]), sent),
        recent(bounce("m-bounce", "bounced@example.com", "Permanent", "fb-1", "2026-11-20T10:00:00.000Z"), sent),
        recent(for_message("event/send.json", "m-reject", ["rejected@example.com"]), sent),
        recent(for_message("event/reject.json", "m-reject", ["rejected@example.com"]), sent),
    ]
    for message in messages:
        assert client.post(tenant.hook, data=json.dumps(pki.sign(notification(message)))).status_code == 200
    drain(app)
    for item in client.get("/api/v1/deliveries", headers=tenant.auth).json["data"]:
        acknowledged = client.post(f"/api/v1/deliveries/{item['id']}/acknowledge", headers=tenant.auth)
        assert acknowledged.status_code == 200, acknowledged.json


def _every_api(app, tenant) -> dict:
    client = app.test_client()
    return {
        "native": client.get("/api/v1/deliveries", headers=tenant.auth).json["data"],
        "elevate": client.get("/v1/email-status", headers=tenant.auth).json,
        "infobip logs": client.get("/email/1/logs", headers={"Authorization": f"App {tenant.key}"}).json["results"],
        "infobip rejected": client.get("/email/1/logs", query_string={"generalStatus": "REJECTED"},
                                       headers={"Authorization": f"App {tenant.key}"}).json["results"],
        "infobip v4": client.get("/email/4/logs", headers={"Authorization": f"App {tenant.key}"}).json["results"],
        "sendcloud": client.get("/apiv2/data/emailStatus", query_string={
            "apiUser": "u", "apiKey": tenant.key, "days": 1}).json["info"]["voList"],
        "sendcloud invalid": client.get("/apiv2/data/emailStatus", query_string={
            "apiUser": "u", "apiKey": tenant.key, "days": 1, "status": 4}).json["info"].get("voList", []),
        "postman": client.get("/v1/transactional/email", headers=tenant.auth).json["data"],
        "postman bounced": client.get("/v1/transactional/email", query_string={"status": "BOUNCED"},
                                      headers=tenant.auth).json["data"],
    }


def test_each_compatible_api_renders_an_acknowledged_delivery_as_its_failure_from_the_row_alone(app, tenant, pki):
    _acknowledged_failures(app, tenant, pki)
    before = _every_api(app, tenant)

    with app.extensions["tracker"].db.transaction() as session:
        session.execute(delete(DeliveryEvent))  # the history is gone; the rows remain

    assert _every_api(app, tenant) == before
    by_recipient = {item["to"]: item for item in before["infobip logs"]}
    assert by_recipient["bounced@example.com"]["status"]["groupName"] == "UNDELIVERABLE"
    assert by_recipient["bounced@example.com"]["error"]["permanent"] is True
    assert by_recipient["rejected@example.com"]["status"]["groupName"] == "REJECTED"
    assert [item["to"] for item in before["infobip rejected"]] == ["rejected@example.com"]
    assert {item["recipients"]: item["status"] for item in before["sendcloud"]}["bounced@example.com"] == "无效邮件"
    assert [item["recipients"] for item in before["sendcloud invalid"]] == [
        "bounced@example.com", "rejected@example.com"]
    assert {item["recipient"]: item["status"] for item in before["postman"]} == {
        "bounced@example.com": "BOUNCED", "rejected@example.com": "UNSENT"}
    assert [item["recipient"] for item in before["postman bounced"]] == ["bounced@example.com"]
    assert {item["status"] for item in before["native"]} == {"ACKNOWLEDGED"}
