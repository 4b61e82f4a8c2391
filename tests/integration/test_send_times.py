"""Send times come from the provider, never from when the tracker heard (issue 14, finding 3).

Infobip's sentAt, SendCloud's requestTime and Postman's sent_at show when the message was
sent as the provider says it (SES mail.timestamp, Infobip's own sentAt), else when the
application registered it, and never after what happened to it. Events come through the
real paths; the tracker hears them now, long after they happened.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone, UTC

from sqlalchemy import select

from tests.support.harness import drain, make_tenant
from tests.support.ses_events import for_message, recorded, ses_time
from tests.support.sns_signing import DEFAULT_TOPIC_ARN, notification
from tests.support.webhooks import infobip as infobip_hooks
from tracker.db import repository
from tracker.db.models import Account, WebhookEvent

UTC8 = timezone(timedelta(hours=8))
RECENT = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=345000)


def post(app, tenant, pki, *messages):
    for message in messages:
        assert app.test_client().post(tenant.hook, data=json.dumps(pki.sign(notification(message)))).status_code == 200
    drain(app)


def bounce(message_id: str, recipient: str, mail_time: str, bounce_time: str) -> dict:
    message = for_message("notification/bounce-permanent.json", message_id, [recipient], bounce={
        "timestamp": bounce_time, "feedbackId": f"fb-{message_id}",
        "bouncedRecipients": [{"emailAddress": recipient, "action": "failed", "status": "5.1.1",
                               "diagnosticCode": "smtp; 550 5.1.1 user unknown"}]})
    message["mail"]["timestamp"] = mail_time
    return message


def sendcloud_items(app, tenant, day: str) -> list[dict]:
    body = app.test_client().get("/apiv2/data/emailStatus", query_string={
        "apiUser": "u", "apiKey": tenant.key, "startDate": day, "endDate": day}).json
    assert body["result"] is True, body
    return body["info"]["voList"]


def test_an_ses_bounce_heard_today_was_sent_when_ses_says(app, tenant, pki):
    # The case: the events happened on 2024-01-01; the tracker hears them today.
    post(app, tenant, pki, bounce("m-old", "old@example.com", "2024-01-01T12:00:00.000Z", "2024-01-01T12:00:04.000Z"))

    [item] = sendcloud_items(app, tenant, "2024-01-01")  # the window is the send time's day (UTC+8)
    assert item["requestTime"] == "2024-01-01 20:00:00"  # SES mail.timestamp, in UTC+8
    assert item["modifiedTime"] == "2024-01-01 20:00:04"
    [email] = app.test_client().get("/v1/transactional/email", headers=tenant.auth).json["data"]
    assert email["sent_at"] == "2024-01-01T12:00:00.000Z"  # SES said when it sent, in the bounce itself
    assert email["created_at"][:4] == str(datetime.now(UTC).year)  # when the tracker heard


def test_the_send_time_never_comes_after_the_outcome(app, tenant, pki):
    # A provider clock that puts the send after its own bounce: the send is shown at the bounce.
    post(app, tenant, pki, bounce("m-skew", "skew@example.com", ses_time(RECENT + timedelta(minutes=5)),
                                  ses_time(RECENT)))

    [log] = app.test_client().get("/email/1/logs", headers={"Authorization": f"App {tenant.key}"}).json["results"]
    assert log["sentAt"] == log["doneAt"] == ses_time(RECENT)


def test_infobip_reports_keep_infobips_own_send_time(app, tenant):
    with app.extensions["tracker"].db.transaction() as session:
        token = repository.create_source(session, session.get(Account, tenant.account_id), "infobip",
                                         secret=infobip_hooks.EXAMPLE_SECRET).token
    recorded = json.loads(infobip_hooks.fixture("dlr/delivered.json"))
    recorded["results"][0].update(sentAt=ses_time(RECENT), doneAt=ses_time(RECENT + timedelta(seconds=4)))
    body, headers = infobip_hooks.signed_request(json.dumps(recorded).encode(), infobip_hooks.EXAMPLE_SECRET)
    assert app.test_client().post(f"/hooks/infobip/{token}", data=body, headers=headers).status_code == 200
    drain(app)

    [log] = app.test_client().get("/email/1/logs", headers={"Authorization": f"App {tenant.key}"}).json["results"]
    assert (log["sentAt"], log["doneAt"]) == (ses_time(RECENT), ses_time(RECENT + timedelta(seconds=4)))
    [email] = app.test_client().get("/v1/transactional/email", headers=tenant.auth).json["data"]
    assert email["sent_at"] == ses_time(RECENT)


def test_a_registered_message_was_sent_when_the_provider_says_and_registration_only_stands_in(app, tenant, pki):
    for message_id in ("m-told", "m-quiet"):
        assert app.test_client().post("/api/v1/messages", headers=tenant.auth, json={
            "message_id": message_id, "recipients": [f"{message_id}@example.com"]}).status_code == 201
    post(app, tenant, pki,
         bounce("m-told", "m-told@example.com", ses_time(RECENT), ses_time(RECENT + timedelta(seconds=3))))

    logs = app.test_client().get("/email/1/logs", headers={"Authorization": f"App {tenant.key}"}).json["results"]
    sent = {log["messageId"]: log["sentAt"] for log in logs}
    assert sent["m-told"] == ses_time(RECENT)  # SES's word, though it was registered later
    registered = datetime.fromisoformat(sent["m-quiet"].replace("Z", "+00:00"))
    assert abs(registered - datetime.now(UTC)) < timedelta(minutes=5)  # nothing said yet: registration


def test_a_rebuild_gives_the_send_times_the_worker_gave(app, tenant, pki):
    from tracker.pipeline import operations

    post(app, tenant, pki, bounce("m-a", "a@example.com", ses_time(RECENT), ses_time(RECENT + timedelta(seconds=2))),
         bounce("m-b", "b@example.com", ses_time(RECENT + timedelta(minutes=5)), ses_time(RECENT)))

    def send_times():
        logs = app.test_client().get("/email/1/logs", headers={"Authorization": f"App {tenant.key}"}).json
        return sorted((log["messageId"], log["sentAt"]) for log in logs["results"])

    before = send_times()
    operations.rebuild(app.extensions["tracker"], account_id=tenant.account_id)
    assert send_times() == before == [("m-a", ses_time(RECENT)), ("m-b", ses_time(RECENT))]


def test_the_native_api_and_webhooks_show_when_ses_sent_not_when_the_tracker_heard(make_app, pki):
    # A recorded SES bounce notification, unchanged: sent 2016-01-27, bounced the next day,
    # registered and heard by the tracker today.
    app = make_app(webhook_allow_http=True, webhook_allowed_networks="127.0.0.0/8:*")
    tenant = make_tenant(app, "acme", [DEFAULT_TOPIC_ARN])
    recorded_bounce = recorded("notification/bounce-transient.json")
    mail = recorded_bounce["mail"]
    sent, bounced = _parse(mail["timestamp"]), _parse(recorded_bounce["bounce"]["timestamp"])
    client = app.test_client()
    hook = {"url": "http://127.0.0.1:9/hook"}
    assert client.post("/api/v1/webhooks", headers=tenant.auth, json=hook).status_code == 201
    registered = client.post("/api/v1/messages", headers=tenant.auth, json={
        "message_id": mail["messageId"], "recipients": mail["destination"]})
    assert registered.status_code == 201
    [pending] = registered.json["deliveries"]
    assert abs(_parse(pending["sent_at"]) - datetime.now(UTC)) < timedelta(minutes=5)  # nothing said yet: registration
    post(app, tenant, pki, recorded_bounce)

    [listed] = client.get("/api/v1/deliveries", headers=tenant.auth).json["data"]
    [of_message] = client.get(f"/api/v1/messages/{registered.json['id']}", headers=tenant.auth).json["deliveries"]
    [subscribed] = _status_changes(app)
    acknowledged = client.post(f"/api/v1/deliveries/{listed['id']}/acknowledge", headers=tenant.auth, json={})
    assert acknowledged.status_code == 200, acknowledged.json
    for item in (listed, of_message, subscribed, acknowledged.json):
        assert _parse(item["sent_at"]) == sent  # SES mail.timestamp, though registered and heard today
        assert _parse(item["created_at"]) > sent + timedelta(days=365)  # when the tracker first heard
    for item in (listed, of_message, subscribed):
        assert (item["status"], _parse(item["status_at"])) == ("BOUNCED", bounced)


def _parse(shown: str) -> datetime:
    return datetime.fromisoformat(shown.replace("Z", "+00:00"))


def _status_changes(app) -> list[dict]:
    """The delivery items queued for subscribers."""
    with app.extensions["tracker"].db.session() as session:
        return [json.loads(event.payload)["delivery"] for event in session.scalars(
            select(WebhookEvent).where(WebhookEvent.type == "delivery.status_changed"))]
