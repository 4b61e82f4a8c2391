"""Every status change is sent: events applied in one batch owe what they would owe one by one."""
from __future__ import annotations

import json
import threading
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tests.support.harness import drain, make_tenant
from tests.support.receiver import receiving
from tests.support.ses_events import bounce, for_message
from tests.support.sns_signing import notification
from tests.support.lock_waits import until_a_session_waits_on_a_lock
from tracker.pipeline import ingest, intake
from tracker.db import repository
from tracker.db.models import Delivery, WebhookEvent
from tracker.outbound import sender

pytestmark = pytest.mark.integration

RECIPIENT = "r@example.com"


@pytest.fixture
def hooks_app(make_app):
    return make_app(webhook_allow_http=True, webhook_allowed_networks="127.0.0.0/8:*")


def subscribe(app, tenant, url, **fields) -> dict:
    response = app.test_client().post("/api/v1/webhooks", json={"url": url, **fields}, headers=tenant.auth)
    assert response.status_code == 201, response.json
    return response.json


def post(app, tenant, pki, *messages) -> None:
    """Store each message through the SNS receiver (no processing yet)."""
    for message in messages:
        assert app.test_client().post(tenant.hook, data=json.dumps(pki.sign(notification(message)))).status_code == 200


def delivered(message_id: str, at: str) -> dict:
    return for_message("event/delivery.json", message_id, [RECIPIENT],
                       delivery={"timestamp": at, "recipients": [RECIPIENT]})


def complained(message_id: str, at: str, feedback_id: str = "fc1") -> dict:
    return for_message("event/complaint.json", message_id, [RECIPIENT], complaint={
        "timestamp": at, "feedbackId": feedback_id, "complainedRecipients": [{"emailAddress": RECIPIENT}]})


def outbox(app, delivery_id: int | None = None) -> list[tuple[int, str, dict]]:
    """(sequence, subscription id, delivery item) of every queued event, by sequence."""
    with app.extensions["tracker"].db.session() as session:
        statement = select(WebhookEvent).where(WebhookEvent.type == "delivery.status_changed")
        if delivery_id is not None:
            statement = statement.where(WebhookEvent.delivery_id == delivery_id)
        return sorted((e.sequence, e.subscription_id, json.loads(e.payload)["delivery"])
                      for e in session.scalars(statement))


def delivery_of(app, message_id: str) -> Delivery:
    with app.extensions["tracker"].db.session() as session:
        return session.scalar(select(Delivery).where(Delivery.message_id == message_id))


def test_a_delivery_and_a_complaint_applied_together_are_both_sent(hooks_app, pki):
    """The issue's finding: applied in one batch they left the delivery at COMPLAINT with status
    sequence 1, and no DELIVERED event was ever sent (a subscriber to DELIVERED heard nothing)."""
    app, tenant = hooks_app, make_tenant(hooks_app, "acme", ["*"])
    with receiving() as receiver:
        every = subscribe(app, tenant, receiver.url)
        only_delivered = subscribe(app, tenant, receiver.url, statuses=["DELIVERED"])
        post(app, tenant, pki, delivered("m1", "2026-11-20T10:00:00.000Z"),
             complained("m1", "2026-11-20T10:05:00.000Z"))
        assert drain(app).processed == 2  # one batch

        delivery = delivery_of(app, "m1")
        assert (delivery.status, delivery.status_sequence) == ("COMPLAINT", 2)
        queued = outbox(app)
        assert [(sequence, sub, item["status"]) for sequence, sub, item in queued] == [
            (1, every["id"], "DELIVERED"), (1, only_delivered["id"], "DELIVERED"), (2, every["id"], "COMPLAINT")]
        assert queued[0][2]["status_at"].startswith("2026-11-20T10:00:00")
        assert queued[2][2]["status_at"].startswith("2026-11-20T10:05:00")

        services = app.extensions["tracker"]
        sender.send_due(services, services.webhook_settings)
    posted = sorted((r["json"]["sequence"], r["json"]["delivery"]["status"]) for r in receiver.requests)
    assert posted == [(1, "DELIVERED"), (1, "DELIVERED"), (2, "COMPLAINT")]


def test_a_later_event_of_a_lower_rank_in_the_same_batch_changes_nothing(hooks_app, pki):
    app, tenant = hooks_app, make_tenant(hooks_app, "acme", ["*"])
    subscribe(app, tenant, "http://127.0.0.1:9/hook")
    # Arrived complaint first: the delivery after it outranks nothing, as it would one by one.
    post(app, tenant, pki, complained("m1", "2026-11-20T10:05:00.000Z"), delivered("m1", "2026-11-20T10:00:00.000Z"))
    drain(app)

    assert [(s, item["status"]) for s, _, item in outbox(app)] == [(1, "COMPLAINT")]
    assert delivery_of(app, "m1").status_sequence == 1


# --- any split into batches: the same events sent --------------------------------------------

_TIMES = [f"2026-11-20T10:{minute:02d}:00.000Z" for minute in range(8)]


def _event(kind: str, message_id: str, n: int) -> dict:
    at = _TIMES[n % len(_TIMES)]
    if kind == "send":
        return for_message("event/send.json", message_id, [RECIPIENT])
    if kind == "delivery":
        return delivered(message_id, at)
    if kind == "delay":
        return for_message("event/delivery-delay.json", message_id, [RECIPIENT], deliveryDelay={
            "timestamp": at, "delayedRecipients": [{"emailAddress": RECIPIENT}]})
    if kind in ("soft-bounce", "hard-bounce"):
        return bounce(message_id, RECIPIENT, "Transient" if kind == "soft-bounce" else "Permanent", f"fb{n}", at)
    if kind == "complaint":
        return complained(message_id, at, f"fc{n}")
    if kind == "open":
        return for_message("event/open.json", message_id, [RECIPIENT], open={"timestamp": at})
    return for_message("event/reject.json", message_id, [RECIPIENT])


_KINDS = ["send", "delivery", "delay", "soft-bounce", "hard-bounce", "complaint", "open", "reject"]


def _store_and_apply(app, tenant, batches) -> None:
    services = app.extensions["tracker"]
    source = services.sources.get(tenant.token)
    for batch in batches:
        for message in batch:
            intake.accept_raw_ses(services, source, json.dumps(message))
        drain(app)


def _sent(app, message_id: str) -> list[tuple]:
    """What subscribers are owed for the delivery: each change's sequence, status and facts."""
    delivery = delivery_of(app, message_id)
    return [(sequence, item["status"], item["status_at"], item["bounce_type"], item["diagnostic"])
            for sequence, _, item in outbox(app, delivery.id)]


@pytest.fixture
def subscribed(hooks_app):
    tenant = make_tenant(hooks_app, "acme", ["*"])
    subscribe(hooks_app, tenant, "http://127.0.0.1:9/hook")
    return tenant


# Examples share the test's database (each uses its own message ids), hence the health check.
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), kinds=st.lists(st.tuples(st.sampled_from(_KINDS), st.integers(0, 7)), min_size=1, max_size=6))
def test_any_split_of_a_deliverys_events_into_batches_sends_the_same_events(hooks_app, subscribed, data, kinds):
    app, tenant = hooks_app, subscribed
    one, split = f"one-{uuid.uuid4().hex}", f"split-{uuid.uuid4().hex}"
    cuts = sorted(set(data.draw(st.lists(st.integers(1, len(kinds) - 1), max_size=len(kinds) - 1))
                      if len(kinds) > 1 else []))

    _store_and_apply(app, tenant, [[_event(kind, one, n)] for kind, n in kinds])
    events = [_event(kind, split, n) for kind, n in kinds]
    bounds = [0, *cuts, len(events)]
    _store_and_apply(app, tenant, [events[low:high] for low, high in zip(bounds, bounds[1:], strict=False)])

    one_by_one, batched = _sent(app, one), _sent(app, split)
    assert batched == one_by_one
    assert [sequence for sequence, *_ in batched] == list(range(1, len(batched) + 1))
    assert delivery_of(app, split).status_sequence == delivery_of(app, one).status_sequence == len(batched)
    assert delivery_of(app, split).status == delivery_of(app, one).status


# --- two workers creating one delivery at once ------------------------------------------------


@pytest.mark.parametrize("first, second, expected", [
    ("send", "delivery", [(1, "SENT"), (2, "DELIVERED")]),
    ("delivery", "send", [(1, "DELIVERED")]),
])
def test_two_workers_making_one_delivery_at_once_count_on_top_of_each_other(hooks_app, pki, first, second, expected):
    """The second worker found no delivery, but the first created it meanwhile: it counts its
    changes again on top of what the first committed, so sequences never repeat or go back."""
    app, tenant = hooks_app, make_tenant(hooks_app, "acme", ["*"])
    subscribe(app, tenant, "http://127.0.0.1:9/hook")
    services = app.extensions["tracker"]
    post(app, tenant, pki, _event(first, "m1", 1))
    post(app, tenant, pki, _event(second, "m1", 2))
    with services.db.session() as session:
        first_id, second_id = [row.id for row in repository.claim_pending(session, 10)]

    def second_worker():
        ingest.process_rows(services.db, [second_id], services.confirmer, services.settings)

    with services.db.transaction() as session:  # the first worker, its commit held back
        ingest._process(session, repository.claim_by_ids(session, [first_id]), services.confirmer, services.settings)
        thread = threading.Thread(target=second_worker)
        thread.start()
        # until the second waits on the first's new delivery row
        until_a_session_waits_on_a_lock(services.db, thread)
        assert thread.is_alive(), "the second worker did not wait for the first"
    thread.join(30)

    assert [(s, item["status"]) for s, _, item in outbox(app)] == expected
    assert delivery_of(app, "m1").status_sequence == expected[-1][0]
