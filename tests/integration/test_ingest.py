"""The worker path on real PostgreSQL: inbox rows become delivery statuses, failures are kept."""
from __future__ import annotations

import json

from sqlalchemy import select

from tests.support.harness import FIXTURES, drain
from tests.support.sns_signing import notification
from tracker.db import repository
from tracker.db.models import Delivery, DeliveryEvent, InboxEvent


def ses(name: str) -> dict:
    return json.loads((FIXTURES / "ses" / name).read_text())


def post_ses(app, tenant, pki, message, **kwargs):
    body = json.dumps(pki.sign(notification(message, **kwargs)))
    response = app.test_client().post(tenant.hook, data=body)
    assert response.status_code == 200, response.json
    return response


def deliveries(app) -> dict[str, Delivery]:
    with app.extensions["tracker"].db.session() as session:
        return {d.recipient: d for d in session.scalars(select(Delivery))}


def message_with(event: dict, message_id: str, destination: list[str]) -> dict:
    event = json.loads(json.dumps(event))
    event["mail"]["messageId"] = message_id
    event["mail"]["destination"] = destination
    return event


def test_permanent_bounce_becomes_bounced_with_type_subtype_and_diagnostic(app, tenant, pki):
    bounce = ses("notification/bounce-permanent.json")
    post_ses(app, tenant, pki, bounce)

    drain(app)

    [delivery] = deliveries(app).values()
    recipient = bounce["bounce"]["bouncedRecipients"][0]
    assert delivery.message_id == bounce["mail"]["messageId"]
    assert delivery.recipient == recipient["emailAddress"].lower()
    assert delivery.status == "BOUNCED"
    assert delivery.bounce_type == "PERMANENT"
    assert delivery.bounce_subtype == bounce["bounce"]["bounceSubType"]
    assert delivery.diagnostic == recipient.get("diagnosticCode")
    assert delivery.events_count == 1


def test_send_affects_every_destination_and_a_bounce_only_the_named_one(app, tenant, pki):
    destination = ["a@example.com", "b@example.com", "c@example.com"]
    send = message_with(ses("event/send.json"), "msg-1", destination)
    bounce = message_with(ses("event/bounce.json"), "msg-1", destination)
    bounce["bounce"]["bouncedRecipients"] = [{"emailAddress": "b@example.com", "action": "failed",
                                               "status": "5.1.1", "diagnosticCode": "smtp; 550 5.1.1 no such user"}]
    post_ses(app, tenant, pki, send)
    post_ses(app, tenant, pki, bounce)

    drain(app)

    statuses = {r: d.status for r, d in deliveries(app).items()}
    assert statuses == {"a@example.com": "SENT", "b@example.com": "BOUNCED", "c@example.com": "SENT"}


def test_late_delay_never_turns_delivered_back_and_async_bounce_wins(app, tenant, pki):
    destination = ["r@example.com"]
    delivery = message_with(ses("event/delivery.json"), "msg-2", destination)
    delivery["delivery"]["recipients"] = destination
    delay = message_with(ses("event/delivery-delay.json"), "msg-2", destination)
    delay["deliveryDelay"]["delayedRecipients"][0]["emailAddress"] = "r@example.com"
    post_ses(app, tenant, pki, delivery)
    post_ses(app, tenant, pki, delay)  # arrives after the delivery, whatever its timestamp
    drain(app)
    assert deliveries(app)["r@example.com"].status == "DELIVERED"

    bounce = message_with(ses("event/bounce.json"), "msg-2", destination)
    bounce["bounce"]["bouncedRecipients"][0]["emailAddress"] = "r@example.com"
    post_ses(app, tenant, pki, bounce)
    drain(app)
    row = deliveries(app)["r@example.com"]
    assert row.status == "BOUNCED"
    assert row.events_count == 3


def test_same_bounce_through_both_families_is_one_history_event(app, tenant, pki):
    feedback = ses("notification/bounce-permanent.json")
    published = json.loads(json.dumps(feedback))
    published["eventType"] = published.pop("notificationType")
    post_ses(app, tenant, pki, feedback)
    post_ses(app, tenant, pki, published)

    drain(app)

    [delivery] = deliveries(app).values()
    assert delivery.events_count == 1


def test_unparseable_row_fails_with_its_reason_and_the_batch_goes_on(app, tenant, pki):
    post_ses(app, tenant, pki, ses("notification/bounce-permanent.json"))
    post_ses(app, tenant, pki, {"mail": {"messageId": "m"}, "eventType": "Teleport"})

    result = drain(app)

    assert (result.processed, result.failed) == (1, 1)
    with app.extensions["tracker"].db.session() as session:
        failed = session.scalar(select(InboxEvent).where(InboxEvent.state == "failed"))
    assert "Teleport" in failed.error and failed.failure_kind == "unmapped_shape"
    assert failed.attempts == 1
    assert failed.first_failed_at is not None and failed.last_failed_at is not None
    assert len(deliveries(app)) == 1


def test_a_message_that_is_not_json_fails_as_unreadable_and_a_strange_one_as_unmapped(app, tenant, pki):
    post_ses(app, tenant, pki, "<xml>not an SES event</xml>")
    post_ses(app, tenant, pki, {"mail": {"messageId": "m"}, "eventType": "Teleport"})

    drain(app)

    with app.extensions["tracker"].db.session() as session:
        kinds = {row.failure_kind: row.error for row in session.scalars(select(InboxEvent))}
    assert set(kinds) == {"parse", "unmapped_shape"}
    assert kinds["parse"].startswith("SES message is not JSON")


def test_an_id_too_long_to_store_fails_its_row_at_once_with_the_reason(app, tenant, pki):
    """Not a database error retried for hours: the payload can never fit, so it waits for an operator."""
    post_ses(app, tenant, pki, message_with(ses("notification/bounce-permanent.json"), "m" * 301,
                                            ["jane@example.com"]))
    post_ses(app, tenant, pki, ses("notification/delivery.json"))

    result = drain(app)

    assert (result.processed, result.failed, result.retrying) == (1, 1, 0)
    with app.extensions["tracker"].db.session() as session:
        failed = session.scalar(select(InboxEvent).where(InboxEvent.state == "failed"))
    assert "message_id is 301 characters long" in failed.error


def test_open_of_a_multi_recipient_message_is_kept_without_inventing_a_recipient(app, tenant, pki):
    opened = ses("event/open-multi-recipient.json")
    post_ses(app, tenant, pki, opened)

    drain(app)

    assert deliveries(app) == {}
    with app.extensions["tracker"].db.session() as session:
        [event] = session.scalars(select(DeliveryEvent))
    assert (event.message_id, event.recipient, event.type) == (opened["mail"]["messageId"], "", "opened")


def test_a_backlog_larger_than_one_batch_drains_completely(app, tenant, pki):
    for n in range(7):
        post_ses(app, tenant, pki, message_with(ses("event/send.json"), f"m{n}", [f"r{n}@example.com"]))
    services = app.extensions["tracker"]
    from tracker.pipeline import ingest

    result = ingest.drain(services.db, services.confirmer, ingest.Settings(batch_size=3))

    assert result.processed == 7
    assert len(deliveries(app)) == 7
    with services.db.session() as session:
        assert repository.inbox_counts(session) == {"processed": 7}
