"""Providers' own published samples, verbatim, through the production processes (gunicorn, Redis,
a Celery worker): the HTTP answer the provider hears and the status and history the API then shows.

The samples are files under tests/fixtures/<provider>/ (tests/fixtures/sendgrid/README.md says
where each comes from); only the signature around a body is made here, by the test signer.
"""
from __future__ import annotations

import pytest

from tests.support.processes import find_deliveries, http, poll
from tests.support.webhooks import sendgrid
from tracker.db import repository

pytestmark = pytest.mark.integration

# SendGrid's Event Webhook Reference, one example per event, all about one message and address.
SENDGRID_REFERENCE = ["processed", "deferred", "delivered", "open", "click", "bounce", "blocked", "dropped",
                      "spamreport", "unsubscribe", "groupunsubscribe", "groupresubscribe"]


@pytest.fixture
def sendgrid_hook(app, stack):
    with app.extensions["tracker"].db.transaction() as session:
        account = repository.create_account(session, "acme")
        key = repository.create_api_key(session, account)
        token = repository.create_source(session, account, "sendgrid", secret=sendgrid.EXAMPLE_SECRET).token
    return f"{stack}/hooks/sendgrid/{token}", key


def post_sendgrid(hook: str, name: str) -> tuple[int, dict]:
    body, headers = sendgrid.signed_request(sendgrid.fixture(name), sendgrid.EXAMPLE_SECRET)
    return http("POST", hook, body, headers)


def history(stack: str, key: str, delivery_id: int) -> list[dict]:
    status, body = http("GET", f"{stack}/api/v1/deliveries/{delivery_id}/events",
                        headers={"Authorization": f"Bearer {key}"})
    assert status == 200, body
    return body["data"]


def test_sendgrid_reference_examples_end_as_the_reference_says(stack, sendgrid_hook):
    hook, key = sendgrid_hook
    for name in SENDGRID_REFERENCE:
        status, answer = post_sendgrid(hook, f"published/reference-{name}.json")
        assert (status, answer.get("events")) == (200, 1), (name, answer)

    # A spam report outranks the bounce, which outranks delivery and engagement.
    [delivery] = poll(lambda: [d for d in find_deliveries(stack, key, message_id="14c5d75ce93.dfd.64b469")
                               if d["status"] == "COMPLAINT"])
    assert delivery["recipient"] == "example@test.com"
    events = poll(lambda: found if len(found := history(stack, key, delivery["id"])) >= 11 else None)
    # The bounce and the blocked example share one sg_event_id in the reference: one event.
    assert sorted(e["type"] for e in events) == sorted([
        "sent", "delayed", "delivered", "opened", "clicked", "bounced", "rejected", "complained",
        "unsubscribed", "unsubscribed", "unmapped"])


def test_a_sendgrid_single_send_event_in_milliseconds_is_stored_and_applied(stack, sendgrid_hook):
    hook, key = sendgrid_hook

    status, answer = post_sendgrid(hook, "published/single-send-open.json")

    assert (status, answer) == (200, {"status": "stored", "events": 1})
    [delivery] = poll(lambda: find_deliveries(stack, key, message_id="sendgrid_internal_message_id"))
    assert (delivery["recipient"], delivery["status"]) == ("email@example.com", "OPENED")
    [opened] = history(stack, key, delivery["id"])
    assert opened["occurred_at"].startswith("2020-06-09T18:19:12.372")
