"""Infobip's official Python SDK (infobip-api-python-client 6.x), unpatched, against the tracker over HTTP.

The SDK calls GET /email/4/logs and GET /email/4/reports (its EmailApi.get_email_logs and
get_email_delivery_reports) and parses the answers into its own pydantic models: what is
asserted here is what a client written with the SDK reads. Events come through the real
paths (signed SES events on the hook, messages registered through the API); the tracker
serves on a real port (a werkzeug server thread), since the SDK speaks HTTP.
"""
from __future__ import annotations

import base64
import json
import threading
import time
from datetime import datetime, timedelta, UTC

import jwt
import pytest
from werkzeug.serving import make_server

from tests.support.harness import drain
from tests.support.ses_events import for_message
from tests.support.sns_signing import notification

infobip = pytest.importorskip("infobip_api_client")  # the test extra installs it
from infobip_api_client import ApiClient, Configuration, EmailApi  # noqa: E402
from infobip_api_client.exceptions import ForbiddenException, UnauthorizedException  # noqa: E402
from infobip_api_client.models.email_message_general_status import EmailMessageGeneralStatus  # noqa: E402

NOW = datetime.now(UTC)
SENT = (NOW - timedelta(minutes=30)).replace(microsecond=123456)  # the provider's send time
BOUNCED_AT = SENT + timedelta(seconds=9, microseconds=300)
DELIVERED_AT = SENT + timedelta(seconds=4)


@pytest.fixture
def served(app):
    """The test app on a real port: its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


def ses_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def post(app, tenant, pki, *messages):
    for message in messages:
        response = app.test_client().post(tenant.hook, data=json.dumps(pki.sign(notification(message))))
        assert response.status_code == 200
    drain(app)


@pytest.fixture
def history(app, tenant, pki):
    """A registered message bounced for one recipient, delivered to another; a second message delivered."""
    register = app.test_client().post("/api/v1/messages", headers=tenant.auth, json={
        "message_id": "m-1", "recipients": ["bob@example.com", "ann@example.com"],
        "from": "Billing <billing@example.com>", "subject": "Your invoice", "bulkId": "bulk-7",
        "campaignReferenceId": "spring", "entityId": "entity-1", "applicationId": "app-1"})
    assert register.status_code == 201, register.json
    mail = {"timestamp": ses_time(SENT)}
    bounce = for_message("event/bounce.json", "m-1", ["bob@example.com"], bounce={
        "bounceType": "Permanent", "bounceSubType": "General", "feedbackId": "fb-1", "timestamp": ses_time(BOUNCED_AT),
        "bouncedRecipients": [{"emailAddress": "bob@example.com", "action": "failed", "status": "5.1.1",
                               "diagnosticCode": "smtp; 550 5.1.1 user unknown"}]})
    delivery = for_message("event/delivery.json", "m-1", ["ann@example.com"], delivery={
        "recipients": ["ann@example.com"], "timestamp": ses_time(DELIVERED_AT)})
    other = for_message("event/delivery.json", "m-2", ["cid@example.com"], delivery={
        "recipients": ["cid@example.com"], "timestamp": ses_time(DELIVERED_AT)})
    for event in (bounce, delivery, other):
        event["mail"].update(mail)
    post(app, tenant, pki, bounce, delivery, other)
    return tenant


def email_api(base: str, key: str, prefix: str | None = None) -> EmailApi:
    """The SDK's client as its README sets it up (api_key; the "App" prefix is its default)."""
    configuration = Configuration(host=base, api_key=key, **({"api_key_prefix": prefix} if prefix else {}))
    return EmailApi(ApiClient(configuration))


def auth_styles(key: str) -> dict[str, tuple[str, str | None]]:
    """Every way the SDK can send credentials: its APIKeyHeader with each prefix Infobip documents."""
    token = jwt.encode({"iat": int(time.time())}, key, algorithm="HS256", headers={"kid": key.split("_")[1]})
    return {
        "App (the SDK's default)": (key, None),
        "Basic": (base64.b64encode(f"any-user:{key}".encode()).decode(), "Basic"),
        "Bearer API key": (key, "Bearer"),
        "Bearer JWT": (token, "Bearer"),
    }


def sdk_time(moment: datetime) -> datetime:
    """A time as the SDK parses what it is shown (to the millisecond)."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def test_get_email_logs_with_every_auth_style(served, history):
    for style, (credential, prefix) in auth_styles(history.key).items():
        logs = email_api(served, credential, prefix).get_email_logs(message_id=["m-1"])

        by_destination = {log.destination: log for log in logs.results}
        assert set(by_destination) == {"bob@example.com", "ann@example.com"}, style
        bob = by_destination["bob@example.com"]
        assert bob.sender == "Billing <billing@example.com>"
        assert bob.text == "Your invoice"
        assert bob.bulk_id == "bulk-7" and bob.campaign_reference_id == "spring"
        assert (bob.platform.entity_id, bob.platform.application_id) == ("entity-1", "app-1")
        assert bob.message_id == "m-1" and bob.message_count == 1
        # The provider's send time (SES mail.timestamp), not when the tracker heard; done when it bounced.
        assert bob.sent_at == sdk_time(SENT)
        assert bob.done_at == sdk_time(BOUNCED_AT)
        assert bob.status.group_name is EmailMessageGeneralStatus.UNDELIVERABLE
        assert bob.status.name == "UNDELIVERABLE_NOT_DELIVERED"
        assert bob.error.permanent is True and bob.error.group_name.value == "USER_ERRORS"
        assert bob.price.currency == "UNKNOWN"
        assert by_destination["ann@example.com"].status.group_name is EmailMessageGeneralStatus.DELIVERED
        assert by_destination["ann@example.com"].done_at == sdk_time(DELIVERED_AT)


def test_get_email_logs_filters_as_the_sdk_sends_them(served, history):
    api = email_api(served, history.key)

    assert {log.destination for log in api.get_email_logs(destination="bob@example.com").results} == {
        "bob@example.com"}
    assert {log.destination for log in api.get_email_logs(sender="billing@example.com").results} == {
        "bob@example.com", "ann@example.com"}
    assert {log.destination for log in api.get_email_logs(
        general_status=EmailMessageGeneralStatus.DELIVERED).results} == {"ann@example.com", "cid@example.com"}
    assert {log.destination for log in api.get_email_logs(bulk_id=["nope", "bulk-7"]).results} == {
        "bob@example.com", "ann@example.com"}
    assert {log.message_id for log in api.get_email_logs(message_id=["m-1", "m-2"]).results} == {"m-1", "m-2"}
    assert len(api.get_email_logs(campaign_reference_id=["spring"], entity_id="entity-1",
                                  application_id="app-1").results) == 2
    # sentSince/sentUntil as the SDK writes datetimes (microseconds, +0000), read to the millisecond shown.
    assert len(api.get_email_logs(sent_since=SENT, sent_until=SENT).results) == 3
    assert api.get_email_logs(sent_since=SENT + timedelta(milliseconds=1)).results in (None, [])


def test_get_email_logs_pages_by_cursor_every_log_once(served, history, app, tenant):
    for n in range(5):
        assert app.test_client().post("/api/v1/messages", headers=tenant.auth, json={
            "message_id": f"r-{n}", "recipients": [f"r{n}@example.com"]}).status_code == 201
    api = email_api(served, history.key)

    seen, cursor, pages = [], None, 0
    while True:
        page = api.get_email_logs(limit=2, use_cursor=True, cursor=cursor)
        pages += 1
        assert page.cursor.limit == 2
        seen += [(log.message_id, log.destination) for log in page.results]
        cursor = page.cursor.next_cursor
        if cursor is None:
            break
    assert pages == 4 and len(seen) == len(set(seen)) == 8
    newest_first = [log.sent_at for log in api.get_email_logs(limit=8).results]
    assert newest_first == sorted(newest_first, reverse=True)


def test_get_email_delivery_reports_each_once(served, history):
    api = email_api(served, history.key, "Bearer")

    reports = api.get_email_delivery_reports(bulk_id="bulk-7", limit=10)
    by_to = {report.to: report for report in reports.results}
    assert set(by_to) == {"bob@example.com", "ann@example.com"}
    bob = by_to["bob@example.com"]
    assert bob.message_id == "m-1" and bob.sender == "Billing <billing@example.com>"
    assert bob.sent_at == sdk_time(SENT) and bob.done_at == sdk_time(BOUNCED_AT)
    assert bob.status.group_name is EmailMessageGeneralStatus.UNDELIVERABLE and bob.error.permanent is True
    assert bob.platform.entity_id == "entity-1" and bob.campaign_reference_id == "spring"
    # Each report once, whichever version of the API pulls it.
    assert api.get_email_delivery_reports(bulk_id="bulk-7").results == []
    assert [r.to for r in api.get_email_delivery_reports(message_id="m-2").results] == ["cid@example.com"]
    assert api.get_email_delivery_reports().results == []


def test_refusals_reach_the_sdk_as_its_api_error(served, history, app):
    with pytest.raises(UnauthorizedException) as refused:
        email_api(served, "trk_0000000000000000_nope").get_email_logs()
    assert refused.value.status == 401
    assert refused.value.data.error_code == "E401"
    assert refused.value.data.description and refused.value.data.action

    from tracker.db import repository
    with app.extensions["tracker"].db.transaction() as session:
        account = repository.account_by_name(session, "acme")
        reader = repository.create_api_key(session, account, role="read-only")
    with pytest.raises(ForbiddenException) as forbidden:
        email_api(served, reader).get_email_delivery_reports()
    assert forbidden.value.data.error_code == "E403"
