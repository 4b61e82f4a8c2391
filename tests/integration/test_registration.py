"""Message registration: attributes and PENDING deliveries, in either order with the provider's events."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from tests.support.harness import drain, make_tenant
from tests.support.ses_events import bounce, for_message
from tests.support.sns_signing import notification
from tests.support.lock_waits import until_a_session_waits_on_a_lock
from tracker.db.models import Delivery, Message

REGISTRATION = {"recipients": ["a@example.com", "B@example.com"], "from": "Billing <billing@example.com>",
                "subject": "Your invoice", "params": {"amount": "12.00"}, "billRunType": "NORMAL", "billRunId": 7,
                "customerId": 42, "labelName": "invoices", "tags": {"team": "billing"}}


def events(message_id: str) -> list[dict]:
    send = for_message("event/send.json", message_id, ["a@example.com", "b@example.com"])
    send["mail"]["tags"] = {"billRunType": ["FROM-TAG"], "siteId": ["3"]}
    return [send, bounce(message_id, "b@example.com", "Permanent", "fb1", "2026-11-20T10:00:00.000Z")]


def post_events(app, tenant, pki, messages):
    for message in messages:
        assert app.test_client().post(tenant.hook, data=json.dumps(pki.sign(notification(message)))).status_code == 200
    drain(app)


def state(app, account_id) -> tuple:
    with app.extensions["tracker"].db.session() as session:
        deliveries = sorted((d.message_id, d.recipient, d.status, d.provider, d.events_count)
                            for d in session.scalars(select(Delivery).where(Delivery.account_id == account_id)))
        messages = sorted((m.message_id, m.from_address, m.subject, json.dumps(m.attributes, sort_keys=True),
                           json.dumps(m.params)) for m in session.scalars(select(Message).where(
                               Message.account_id == account_id)))
    return deliveries, messages


def test_registration_makes_pending_deliveries_with_attributes(app, tenant):
    response = app.test_client().post("/api/v1/messages", json={**REGISTRATION, "message_id": "m1"},
                                      headers=tenant.auth)
    assert response.status_code == 201
    body = response.json
    assert body["attributes"]["billRunId"] == "7" and body["attributes"]["tags"] == {"team": "billing"}
    assert [(d["recipient"], d["status"]) for d in body["deliveries"]] == [("a@example.com", "PENDING"),
                                                                          ("b@example.com", "PENDING")]


def test_registering_before_or_after_the_events_gives_the_same_result(app, pki):
    before, after = make_tenant(app, "before", ["*"]), make_tenant(app, "after", ["*"])
    client = app.test_client()
    assert client.post("/api/v1/messages", json={**REGISTRATION, "message_id": "m1"},
                       headers=before.auth).status_code == 201
    post_events(app, before, pki, events("m1"))
    post_events(app, after, pki, events("m1"))
    assert client.post("/api/v1/messages", json={**REGISTRATION, "message_id": "m1"},
                       headers=after.auth).status_code == 201

    assert state(app, before.account_id) == state(app, after.account_id)
    deliveries, messages = state(app, before.account_id)
    assert deliveries == [("m1", "a@example.com", "SENT", "ses", 1), ("m1", "b@example.com", "BOUNCED", "ses", 2)]
    attributes = json.loads(messages[0][3])
    assert attributes["billRunType"] == "NORMAL"  # what the application registered wins over the tag
    assert attributes["siteId"] == "3"  # and tags fill what it did not say


def test_the_provider_id_attached_later_merges_with_what_events_made(app, tenant, pki):
    client = app.test_client()
    registered = client.post("/api/v1/messages", json=REGISTRATION, headers=tenant.auth).json
    assert registered["message_id"].startswith("registered-")
    post_events(app, tenant, pki, events("ses-123"))

    patched = client.patch(f"/api/v1/messages/{registered['id']}", json={"message_id": "ses-123"},
                           headers=tenant.auth)
    assert patched.status_code == 200, patched.json
    assert patched.json["message_id"] == "ses-123"
    assert [(d["recipient"], d["status"]) for d in patched.json["deliveries"]] == [("a@example.com", "SENT"),
                                                                                  ("b@example.com", "BOUNCED")]
    deliveries, messages = state(app, tenant.account_id)
    assert [d[0] for d in deliveries] == ["ses-123", "ses-123"] and len(messages) == 1
    assert json.loads(messages[0][3])["customerId"] == "42"
    again = client.patch(f"/api/v1/messages/{patched.json['id']}", json={"message_id": "other"}, headers=tenant.auth)
    assert again.status_code == 409


def test_batches_bad_input_and_tenants(app, tenant):
    client = app.test_client()
    batch = client.post("/api/v1/messages", json={"messages": [{"recipients": ["x@example.com"]},
                                                               {"recipients": ["y@example.com"]}]},
                        headers=tenant.auth)
    assert batch.status_code == 201 and len(batch.json["data"]) == 2
    for bad in ({}, {"recipients": []}, {"recipients": ["not an address"]}, [], "text"):
        response = client.post("/api/v1/messages", json=bad, headers=tenant.auth)
        assert response.status_code == 400 and response.json["detail"], bad
    other = make_tenant(app, "other", ["*"])
    assert client.get(f"/api/v1/messages/{batch.json['data'][0]['id']}", headers=other.auth).status_code == 404


@pytest.mark.parametrize("events_first", [False, True], ids=["registered-only", "events-made-its-row"])
def test_the_same_provider_id_attached_twice_at_once_leaves_the_message_as_one_attach_does(app, tenant, pki,
                                                                                          events_first):
    """A client retrying its PATCH (the first answer slow to come) sends the same id while the first is
    still being applied: the second waits for the first's locks, then finds it done and answers the
    message as it is then, its row and deliveries what one PATCH makes."""
    import threading

    from tracker.db import repository
    from tracker.pipeline import registration

    client = app.test_client()
    registered = client.post("/api/v1/messages", json=REGISTRATION, headers=tenant.auth).json
    if events_first:
        post_events(app, tenant, pki, events("ses-777"))
    db = app.extensions["tracker"].db
    outcome = {}

    def second_patch():
        with db.transaction() as session:
            message = repository.message_of_account(session, tenant.account_id, registered["id"])
            loaded.set()
            try:
                outcome["message"] = registration.attach_provider_id(session, message, "ses-777").id
            except Exception as error:  # noqa: BLE001 - what the view would have turned into its answer
                outcome["error"] = repr(error)

    loaded = threading.Event()
    with db.transaction() as first:
        attached = registration.attach_provider_id(
            first, repository.message_of_account(first, tenant.account_id, registered["id"]), "ses-777").id
        thread = threading.Thread(target=second_patch)
        thread.start()
        assert loaded.wait(30)  # the second read the message as registered, the first not committed
        until_a_session_waits_on_a_lock(db, thread)
    thread.join(30)

    assert outcome == {"message": attached}
    assert (attached != registered["id"]) is events_first  # merged into the row the events made
    shown = client.get(f"/api/v1/messages/{attached}", headers=tenant.auth)
    assert shown.status_code == 200 and shown.json["message_id"] == "ses-777"
    deliveries, messages = state(app, tenant.account_id)
    assert [d[:2] for d in deliveries] == [("ses-777", "a@example.com"), ("ses-777", "b@example.com")]
    assert len(messages) == 1
