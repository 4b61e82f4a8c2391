"""Attributes webhook providers echo (Infobip's bulkId, SendCloud's labelId) find their deliveries."""
from __future__ import annotations

import base64

from tests.support.harness import drain
from tests.support.webhooks.catalog import PROVIDERS
from tracker.db import repository

BY_NAME = {provider.name: provider for provider in PROVIDERS}


def hook_for(app, provider_name: str):
    provider = BY_NAME[provider_name]
    with app.extensions["tracker"].db.transaction() as session:
        account = repository.create_account(session, "acme")
        key = repository.create_api_key(session, account)
        token = repository.create_source(session, account, provider.name, secret=provider.secret).token
    return provider, f"/hooks/{provider.name}/{token}", key


def test_an_infobip_report_is_found_by_its_bulk_id_with_no_registration(app):
    provider, hook, key = hook_for(app, "infobip")
    body, headers = provider.signed(provider.fixture("dlr/delivered.json"))
    assert app.test_client().post(hook, data=body, headers=headers).status_code == 200
    drain(app)
    basic = base64.b64encode(f"user:{key}".encode()).decode()

    def reports(bulk_id: str) -> list[dict]:
        return app.test_client().get("/email/1/reports", query_string={"bulkId": bulk_id},
                                     headers={"Authorization": f"Basic {basic}"}).json["results"]

    assert reports("some-other-bulk") == []
    [report] = reports("cb1x9wq3h0ze7pt2mfa6")
    assert (report["messageId"], report["bulkId"]) == ("8b3f61c2-7d4e-4a1b-9c0f-2e5d6a7b8c91", "cb1x9wq3h0ze7pt2mfa6")


def test_a_sendcloud_event_is_found_by_its_label_id_with_no_registration(app):
    provider, hook, key = hook_for(app, "sendcloud")
    body, headers = provider.signed(provider.fixture("json/delivered.json"))
    assert app.test_client().post(hook, data=body, headers=headers).status_code == 200
    drain(app)

    def listed(label_id: str) -> list[dict]:
        info = app.test_client().get("/apiv2/data/emailStatus", query_string={
            "apiUser": "acme_trigger", "apiKey": key, "days": 1, "labelId": label_id}).json["info"]
        return info.get("voList", [])

    assert listed("999") == []
    [item] = listed("12345")
    assert item["recipients"] == "alice@example.com"


def test_a_mailgun_id_registered_in_its_send_api_form_meets_its_events(app):
    """Mailgun's send API answers <id@domain>; its webhooks name the id bare: one delivery."""
    provider, hook, key = hook_for(app, "mailgun")
    auth = {"Authorization": f"Bearer {key}"}
    client = app.test_client()
    registered = client.post("/api/v1/messages", headers=auth, json={
        "message_id": "<20260203192638.1.8F3A2C1D0B9E7F65@mg.example.com>", "recipients": ["alice@example.com"],
        "customerId": 42})
    assert registered.status_code == 201, registered.json
    body, headers = provider.signed(provider.fixture("delivered.json"))
    assert client.post(hook, data=body, headers=headers).status_code == 200
    drain(app)

    [delivery] = client.get("/api/v1/deliveries", headers=auth).json["data"]
    assert (delivery["message_id"], delivery["status"]) == ("20260203192638.1.8F3A2C1D0B9E7F65@mg.example.com",
                                                            "DELIVERED")
    found = client.get("/api/v1/deliveries", headers=auth, query_string={
        "message_id": "<20260203192638.1.8F3A2C1D0B9E7F65@mg.example.com>"}).json["data"]
    assert [item["id"] for item in found] == [delivery["id"]]
