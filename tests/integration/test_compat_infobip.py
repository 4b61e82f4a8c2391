"""Infobip's GET /email/1/logs and GET /email/1/reports (seeds 001, 002) on real PostgreSQL.

Deliveries come through the real paths only: signed SES events posted to the hook and drained,
Infobip delivery reports posted to an Infobip source, and messages registered by the API.
"""
from __future__ import annotations

import base64
import json
import re
import threading
from datetime import datetime, timedelta, UTC
from xml.etree import ElementTree

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

from tests.support import infobip_api as api
from tests.support.harness import drain, make_tenant, push_infobip_reports
from tests.support.ses_events import bounce, for_message, recent, ses_time
from tests.support.sns_signing import notification
from tracker.db import repository
from tracker.http.compat.infobip import views as compat_infobip
from tracker.http.compat.infobip import views_v4 as compat_infobip_v4
from tracker.domain import BounceType, EventType, Outcome
from tracker.http.compat.infobip.mapping import STATUS, infobip_codes
from tracker.domain import Status
from tracker.db.models import Account, Delivery

LOGS, REPORTS = "/email/1/logs", "/email/1/reports"


def logs(app, tenant, headers=None, **params):
    return api.get(app.test_client(), LOGS, headers or api.app_auth(tenant.key), **params)


def reports(app, tenant, headers=None, accept="application/json", **params):
    return api.get(app.test_client(), REPORTS, headers or api.basic_auth(tenant.key), accept=accept, **params)


# Logs cover messages sent in the last 48 hours, by the provider's send time (SES
# mail.timestamp): the recorded events are re-timed to have been sent an hour ago.
SENT_AT = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=250000)


def post_all(app, tenant, pki, *messages, sent_at: datetime = SENT_AT):
    for message in (recent(message, sent_at) for message in messages):
        assert app.test_client().post(tenant.hook, data=json.dumps(pki.sign(notification(message)))).status_code == 200
    drain(app)


def delivered(message_id, *recipients):
    return for_message("event/delivery.json", message_id, list(recipients),
                       delivery={"recipients": list(recipients)})


def sent(message_id, *recipients):
    return for_message("event/send.json", message_id, list(recipients))


def register(app, tenant, **spec):
    response = app.test_client().post("/api/v1/messages", json=spec, headers=tenant.auth)
    assert response.status_code == 201, response.json
    return response.json


def acknowledge(app, tenant, message_id, recipient):
    with app.extensions["tracker"].db.session() as session:
        delivery_id = session.scalar(select(Delivery.id).where(Delivery.account_id == tenant.account_id,
                                                               Delivery.message_id == message_id,
                                                               Delivery.recipient == recipient))
    assert app.test_client().post(f"/api/v1/deliveries/{delivery_id}/acknowledge",
                                  headers=tenant.auth).status_code == 200


def now_iso(delta=timedelta()):
    moment = datetime.now(UTC) + delta
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def one_of_each():
    """SES events putting one delivery in each canonical status the provider can set."""
    def m(n):
        return f"{n}@example.com"
    return {
        "SENT": sent("m-sent", m("sent")),
        "RETRY": for_message("event/delivery-delay.json", "m-retry", [m("retry")],
                             deliveryDelay={"delayedRecipients": [{"emailAddress": m("retry")}]}),
        "DELIVERED": delivered("m-delivered", m("delivered")),
        "OPENED": for_message("event/open.json", "m-opened", [m("opened")]),
        "ERROR": for_message("event/reject.json", "m-error", [m("error")]),
        "RENDERING": for_message("event/rendering-failure.json", "m-rendering", [m("rendering")]),
        "BOUNCED": bounce("m-bounced", m("bounced"), "Permanent", "fb1", "2026-11-20T10:00:00.000Z"),
        "SOFT": bounce("m-soft", m("soft"), "Transient", "fb2", "2026-11-20T10:00:00.000Z"),
        "COMPLAINT": for_message("event/complaint.json", "m-complaint", [m("complaint")],
                                 complaint={"complainedRecipients": [{"emailAddress": m("complaint")}]}),
    }


# --- the mapping table, row by row ---------------------------------------------------------------

def _outcome(status, bounce_type=None, bounce_subtype=None, diagnostic=None, event_type=None) -> Outcome:
    """A delivery's shown outcome (tracker.domain), as the rows below name its parts."""
    return Outcome(status, precedence="", type=event_type, bounce_type=BounceType(bounce_type) if bounce_type else None,
                   bounce_subtype=bounce_subtype, diagnostic=diagnostic)


ROWS = [  # outcome -> (status groupName, status id, error id, error permanent)
    (_outcome(Status.PENDING), ("PENDING", 26, 0, False)),
    (_outcome(Status.SENT), ("PENDING", 7, 0, False)),
    (_outcome(Status.RETRY), ("PENDING", 3, 0, False)),
    (_outcome(Status.DELIVERED), ("DELIVERED", 5, 0, False)),
    (_outcome(Status.OPENED), ("DELIVERED", 5, 0, False)),
    (_outcome(Status.ERROR, event_type=EventType.REJECTED), ("REJECTED", 21, 6005, False)),
    (_outcome(Status.ERROR, event_type=EventType.RENDERING_FAILED), ("REJECTED", 21, 6021, False)),
    # a rejection Infobip reported: its error name is the subtype
    (_outcome(Status.ERROR, None, "EC_EMAIL_BLACKLISTED", event_type=EventType.REJECTED), ("REJECTED", 21, 6001, True)),
    (_outcome(Status.BOUNCED, "PERMANENT", "General", "smtp; 550 5.1.1 no such user"),
     ("UNDELIVERABLE", 9, 6006, True)),
    (_outcome(Status.BOUNCED, "PERMANENT", "General"), ("UNDELIVERABLE", 9, 6012, True)),
    (_outcome(Status.BOUNCED, "PERMANENT", "NoEmail"), ("UNDELIVERABLE", 9, 6006, True)),
    (_outcome(Status.BOUNCED, "PERMANENT", "Suppressed"), ("UNDELIVERABLE", 9, 6034, True)),
    (_outcome(Status.BOUNCED, "PERMANENT", "OnAccountSuppressionList"), ("UNDELIVERABLE", 9, 6034, True)),
    (_outcome(Status.BOUNCED, "PERMANENT", "EC_HARD_BOUNCE"), ("UNDELIVERABLE", 9, 6012, True)),
    (_outcome(Status.BOUNCED, "PERMANENT", None, "550 5.2.1 mailbox disabled"), ("UNDELIVERABLE", 9, 6009, True)),
    (_outcome(Status.BOUNCED, "TRANSIENT", "General"), ("UNDELIVERABLE", 9, 6007, False)),
    (_outcome(Status.BOUNCED, "TRANSIENT", "MailboxFull"), ("UNDELIVERABLE", 9, 6010, False)),
    (_outcome(Status.BOUNCED, "TRANSIENT", None, "452 4.2.2 over quota"), ("UNDELIVERABLE", 9, 6010, False)),
    (_outcome(Status.BOUNCED, "TRANSIENT", "MessageTooLarge"), ("UNDELIVERABLE", 9, 6013, False)),
    (_outcome(Status.BOUNCED, "TRANSIENT", "ContentRejected"), ("UNDELIVERABLE", 9, 6002, False)),
    (_outcome(Status.BOUNCED, "UNDETERMINED", "Undetermined"), ("UNDELIVERABLE", 9, 6013, False)),
    (_outcome(Status.COMPLAINT), ("DELIVERED", 5, 6035, True)),
    (_outcome(Status.ACKNOWLEDGED), ("REJECTED", 21, 6005, False)),  # only when no failure is in its history
]


@pytest.mark.parametrize("outcome, expected", ROWS,
                         ids=[f"{o.status.value}-{o.bounce_type and o.bounce_type.value}-{o.bounce_subtype}-"
                              f"{o.type and o.type.value}" for o, _ in ROWS])
def test_mapping_row(outcome, expected):
    status, error = infobip_codes(outcome)
    assert (status.group_name, status.id, error.id, error.permanent) == expected
    assert error.group_name in ("OK", "HANDSET_ERRORS", "USER_ERRORS", "OPERATOR_ERRORS")  # the SDK's enum
    assert (error.group_id == 0) == (error.id == 0)


def test_the_table_covers_every_canonical_status_and_only_final_ones_are_reported():
    assert set(STATUS) | {Status.BOUNCED, Status.ACKNOWLEDGED} == set(Status)
    pending = {s for s, (code, _) in STATUS.items() if code.group_name == "PENDING"}
    assert pending == {Status.PENDING, Status.SENT, Status.RETRY}
    assert set(compat_infobip.FINAL) == {s.value for s in Status} - {s.value for s in pending}


# --- authentication, 403, 429 ------------------------------------------------------------------


def test_app_basic_bearer_and_jwt_credentials_all_work(app, tenant):
    for headers in (api.app_auth(tenant.key), api.basic_auth(tenant.key), api.basic_auth(tenant.key, ""),
                    api.bearer_auth(tenant.key), api.jwt_auth(tenant.key)):
        assert logs(app, tenant, headers).status_code == 200, headers
        assert reports(app, tenant, headers).status_code == 200, headers


@pytest.mark.parametrize("accept", ["application/json", "application/xml"])
def test_bad_credentials_answer_infobip_401(app, tenant, accept):
    other_secret = "trk_" + tenant.key.split("_")[1] + "_not-the-secret"
    for headers in ({}, {"Authorization": "App"}, {"Authorization": "IBSSO " + tenant.key},
                    api.app_auth(other_secret), {"Authorization": "Basic !!not-base64"},
                    # not ASCII, which base64 never is (a ValueError of its own): refused, not a 500
                    {"Authorization": "Basic dXNlcjrp\u00e9"},
                    api.basic_auth(""), api.jwt_auth(tenant.key, exp=1)):
        for path in (LOGS, REPORTS):
            response = api.get(app.test_client(), path, headers, accept=accept)
            assert response.status_code == 401, (path, headers)
            assert response.mimetype == accept
            assert api.service_exception(response) == {"messageId": "UNAUTHORIZED", "text": "Invalid login details"}


@pytest.mark.parametrize("path", [LOGS, REPORTS, "/email/4/logs", "/email/4/reports"])
def test_a_401_challenges_for_basic_so_that_challenge_based_clients_send_their_credentials(app, tenant, path):
    """RFC 9110 15.5.2: a 401 MUST carry a WWW-Authenticate challenge. HTTP clients given a user and
    password (Apache HttpClient's credentials provider, .NET's NetworkCredential, urllib's
    HTTPBasicAuthHandler, curl --anyauth) first ask without them and answer a Basic challenge:
    without one they never sent the credentials the seeds' Basic scheme takes."""
    refused = app.test_client().get(path)
    assert refused.status_code == 401
    assert refused.headers.get("WWW-Authenticate", "").startswith("Basic realm=")
    assert app.test_client().get(path, headers=api.basic_auth(tenant.key)).status_code == 200


def test_a_revoked_key_is_refused(app, tenant):
    with app.extensions["tracker"].db.transaction() as session:
        repository.revoke_key(session, tenant.key.split("_")[1])
    assert logs(app, tenant).status_code == 401
    assert reports(app, tenant).status_code == 401


def test_a_read_only_key_reads_logs_but_may_not_consume_reports(app, tenant, pki):
    with app.extensions["tracker"].db.transaction() as session:
        read_only = repository.create_api_key(session, session.get(Account, tenant.account_id), role="read-only")
    post_all(app, tenant, pki, delivered("m1", "r@example.com"))

    assert len(logs(app, tenant, api.app_auth(read_only)).json["results"]) == 1
    for accept in ("application/json", "application/xml"):
        refused = reports(app, tenant, api.app_auth(read_only), accept=accept)
        assert refused.status_code == 403
        assert api.service_exception(refused)["messageId"] == "FORBIDDEN"
    assert len(reports(app, tenant).json["results"]) == 1  # nothing was consumed by the refused pulls


def test_rate_limit_answers_infobip_429_across_both_endpoints(make_app):
    limited = make_app(rate_limits="infobip=2")
    tenant = make_tenant(limited, "acme", ["*"])
    assert logs(limited, tenant).status_code == 200
    assert reports(limited, tenant).status_code == 200
    response = logs(limited, tenant)
    assert response.status_code == 429 and int(response.headers["Retry-After"]) >= 1
    assert api.service_exception(response) == {"messageId": "TOO_MANY_REQUESTS", "text": "Too many requests"}
    xml = reports(limited, tenant, accept="application/xml")
    assert xml.status_code == 429 and api.service_exception(xml)["messageId"] == "TOO_MANY_REQUESTS"
    # Another style's limit is its own.
    assert limited.test_client().get("/api/v1/deliveries", headers=tenant.auth).status_code == 200


# --- logs -----------------------------------------------------------------------------------


def test_seed_logs_request_replayed(app, tenant, pki):
    register(app, tenant, message_id="m1", recipients=["r@example.com"], **{"from": "Sender <sender@example.com>"},
             subject="Your invoice", bulkId="b1", applicationId="app-1", entityId="ent-1")
    post_all(app, tenant, pki, delivered("m1", "r@example.com"))
    # The seed's own request names 2021-01-02, long out of the 48-hour window: a 200 with
    # no logs (sentSince is clamped to the window, not refused).
    seed = logs(app, tenant, sentSince="2021-01-02T01:00:00.123Z", sentUntil="2021-01-02T01:00:00.123Z")
    assert seed.status_code == 200 and seed.mimetype == "application/json" and seed.json == {"results": []}
    # The same request with concrete values of the same form around now.
    response = logs(app, tenant, sentSince=ses_time(SENT_AT - timedelta(minutes=5)), sentUntil=now_iso())
    [log] = response.json["results"]
    assert list(log) == api.SEED_LOG_FIELDS  # every documented field, in the documented order
    assert list(log["status"]) == [f for f in api.SEED_LOG_STATUS_FIELDS if f != "action"]  # no action to take
    assert list(log["error"]) == api.SEED_LOG_ERROR_FIELDS
    assert (log["applicationId"], log["entityId"], log["bulkId"], log["messageId"], log["to"], log["from"],
            log["text"], log["messageCount"]) == ("app-1", "ent-1", "b1", "m1", "r@example.com",
                                                  "Sender <sender@example.com>", "Your invoice", 1)
    assert re.match(api.LOG_TIME, log["sentAt"]) and re.match(api.LOG_TIME, log["doneAt"])
    assert log["price"] == {"pricePerMessage": 0, "currency": "UNKNOWN"}
    assert log["status"] == api.SEED_REPORT["status"] and log["error"] == api.SEED_REPORT["error"]
    assert log["sentAt"] == ses_time(SENT_AT)  # the provider's send time, SES mail.timestamp
    assert log["doneAt"] == ses_time(SENT_AT + timedelta(seconds=11.893))  # the SES delivery's time


def test_logs_items_follow_the_mapping_and_carry_the_failure(app, tenant, pki):
    post_all(app, tenant, pki, *one_of_each().values())
    by_recipient = {log["to"].split("@")[0]: log for log in logs(app, tenant).json["results"]}
    assert len(by_recipient) == 9
    got = {name: (log["status"]["groupName"], log["status"]["id"], log["error"]["id"], log["error"]["permanent"])
           for name, log in by_recipient.items()}
    assert got == {
        "sent": ("PENDING", 7, 0, False), "retry": ("PENDING", 3, 0, False),
        "delivered": ("DELIVERED", 5, 0, False), "opened": ("DELIVERED", 5, 0, False),
        "error": ("REJECTED", 21, 6005, False), "rendering": ("REJECTED", 21, 6021, False),
        "bounced": ("UNDELIVERABLE", 9, 6006, True),  # General, but the diagnostic says 5.1.1
        "soft": ("UNDELIVERABLE", 9, 6006, False),
        "complaint": ("DELIVERED", 5, 6035, True),
    }
    assert by_recipient["bounced"]["error"]["groupName"] == "USER_ERRORS"
    assert by_recipient["bounced"]["status"]["action"]
    assert by_recipient["sent"]["from"] == "sender@example.com"
    assert by_recipient["sent"]["text"] == "Message sent from Amazon SES"  # the subject


def test_acknowledged_deliveries_show_and_filter_as_the_failure_they_acknowledged(app, tenant, pki):
    events = one_of_each()
    post_all(app, tenant, pki, events["BOUNCED"], events["ERROR"], events["COMPLAINT"])
    for name in ("bounced", "error", "complaint"):
        acknowledge(app, tenant, f"m-{name}", f"{name}@example.com")

    def shown(**params):
        return {log["to"].split("@")[0]: (log["status"]["groupName"], log["error"]["id"])
                for log in logs(app, tenant, **params).json["results"]}

    assert shown() == {"bounced": ("UNDELIVERABLE", 6006), "error": ("REJECTED", 6005),
                       "complaint": ("DELIVERED", 6035)}
    assert shown(generalStatus="UNDELIVERABLE") == {"bounced": ("UNDELIVERABLE", 6006)}
    assert shown(generalStatus="REJECTED") == {"error": ("REJECTED", 6005)}
    assert shown(generalStatus="DELIVERED") == {"complaint": ("DELIVERED", 6035)}


def test_general_status_filter(app, tenant, pki):
    post_all(app, tenant, pki, *one_of_each().values())

    def recipients(status):
        return sorted(log["to"].split("@")[0] for log in logs(app, tenant, generalStatus=status).json["results"])

    assert recipients("PENDING") == ["retry", "sent"]
    assert recipients("delivered") == ["complaint", "delivered", "opened"]
    assert recipients("UNDELIVERABLE") == ["bounced", "soft"]
    assert recipients("REJECTED") == ["error", "rendering"]
    assert recipients("EXPIRED") == [] and recipients("ACCEPTED") == []
    assert recipients("") == sorted(["sent", "retry", "delivered", "opened", "error", "rendering", "bounced",
                                     "soft", "complaint"])  # empty means no filter


def test_logs_filters(app, tenant, pki):
    register(app, tenant, message_id="m1", recipients=["a@example.com", "b@example.com"], bulkId="bulk-1",
             campaignReferenceId="camp-1", applicationId="app-1", entityId="ent-1",
             **{"from": "Billing <Billing@Example.com>"})
    register(app, tenant, message_id="m2", recipients=["c@example.com"], bulkId="bulk-2",
             campaignReferenceId="camp-2", applicationId="app-2", entityId="ent-2", **{"from": "news@example.com"})
    post_all(app, tenant, pki, sent("m3", "d@example.com"))

    def recipients(**params):
        response = logs(app, tenant, **params)
        assert response.status_code == 200, response.json
        return sorted(log["to"] for log in response.json["results"])

    assert recipients(messageId="m1") == ["a@example.com", "b@example.com"]  # one SES id, one log per recipient
    assert recipients(to="B@Example.com") == ["b@example.com"]
    assert recipients(bulkId="bulk-2") == ["c@example.com"]
    assert recipients(campaignReferenceId="camp-1") == ["a@example.com", "b@example.com"]
    assert recipients(applicationId="app-2") == ["c@example.com"]
    assert recipients(entityId="ent-1", to="a@example.com") == ["a@example.com"]
    assert recipients(**{"from": "billing@example.com"}) == ["a@example.com", "b@example.com"]
    assert recipients(**{"from": "news@example.com"}) == ["c@example.com"]
    assert recipients(**{"from": "sender@example.com"}) == ["d@example.com"]  # from the SES event
    assert recipients(**{"from": "%@example.com"}) == []  # no wildcards
    assert recipients(bulkId="bulk-1", applicationId="app-2") == []
    assert recipients(messageId="nope") == []


def test_logs_are_newest_first_with_a_limit_and_time_filters(app, tenant, pki):
    for n in range(4):
        post_all(app, tenant, pki, sent(f"m{n}", f"r{n}@example.com"), sent_at=SENT_AT + timedelta(seconds=n))
    everything = logs(app, tenant).json["results"]
    assert [log["messageId"] for log in everything] == ["m3", "m2", "m1", "m0"]
    assert [log["messageId"] for log in logs(app, tenant, limit=2).json["results"]] == ["m3", "m2"]
    assert len(logs(app, tenant, limit=1000).json["results"]) == 4
    # Paging back in time: sentUntil the oldest sentAt seen (inclusive, so it comes again).
    older = logs(app, tenant, limit=2, sentUntil=everything[1]["sentAt"]).json["results"]
    assert [log["messageId"] for log in older][-1] == "m1"
    assert logs(app, tenant, sentSince=now_iso(timedelta(minutes=1))).json["results"] == []
    assert len(logs(app, tenant, sentUntil="9999-12-31T23:59:59.999Z").json["results"]) == 4
    assert len(logs(app, tenant, sentSince="2000-01-01T00:00:00.000+0000").json["results"]) == 4  # clamped
    since = ses_time(SENT_AT - timedelta(minutes=1)).replace("Z", "+0000")
    assert len(logs(app, tenant, sentSince=since).json["results"]) == 4


def test_logs_older_than_48_hours_are_not_returned(app, tenant, pki, monkeypatch):
    post_all(app, tenant, pki, delivered("m1", "r@example.com"))
    assert len(logs(app, tenant).json["results"]) == 1
    later = datetime.now(UTC) + timedelta(hours=48, minutes=1)
    monkeypatch.setattr(compat_infobip, "utcnow", lambda: later)
    assert logs(app, tenant).json["results"] == []
    assert logs(app, tenant, messageId="m1").json["results"] == []
    assert reports(app, tenant).json["results"] == []  # reports share the window
    monkeypatch.undo()
    assert len(reports(app, tenant).json["results"]) == 1


@pytest.mark.parametrize("params, parameter", [
    ({"limit": "1001"}, "limit"),
    ({"limit": "0"}, "limit"),
    ({"limit": "ten"}, "limit"),
    ({"sentSince": "yesterday"}, "sentSince"),
    ({"sentUntil": "2021-13-02T01:00:00.123Z"}, "sentUntil"),
    ({"sentSince": "2021-01-03T00:00:00.000Z", "sentUntil": "2021-01-02T00:00:00.000Z"}, "sentSince"),
    ({"generalStatus": "LOST"}, "generalStatus"),
    ({"to": "not an address"}, "to"),
])
def test_bad_logs_parameters_answer_infobip_400_naming_the_parameter(app, tenant, params, parameter):
    response = logs(app, tenant, **params)
    assert response.status_code == 400
    exception = api.service_exception(response)
    assert exception["messageId"] == "BAD_REQUEST" and parameter in exception["text"]
    assert response.json["requestError"]["serviceException"]["validationErrors"] == {parameter: [exception["text"]]}
    as_xml = api.get(app.test_client(), LOGS, api.app_auth(tenant.key), accept="application/xml", **params)
    assert as_xml.status_code == 400 and parameter in api.service_exception(as_xml)["text"]


def test_logs_and_reports_carry_what_infobip_itself_reported(app, tenant):
    # Sent within the logs' 48 hours.
    push_infobip_reports(app, tenant.account_id, "dlr/undeliverable-permanent.json", SENT_AT,
                         SENT_AT + timedelta(seconds=5))

    [log] = logs(app, tenant).json["results"]
    assert log["messageId"] == "f04a9d3e-5c21-4b7a-8e6f-1a2b3c4d5e6f"
    assert log["price"] == {"pricePerMessage": 0.0012, "currency": "EUR"}
    assert (log["status"]["id"], log["error"]["id"], log["error"]["name"], log["error"]["permanent"]) == (
        9, 6012, "EC_HARD_BOUNCE", True)
    [report] = reports(app, tenant).json["results"]
    assert report["price"] == log["price"] and report["error"] == log["error"]


def test_a_rejection_infobip_reported_keeps_its_error(app, tenant):
    # dlr/rejected.json: REJECTED with error 6001 EC_EMAIL_BLACKLISTED, permanent true. A client keys
    # on the error's id and permanent flag (provider-formats §3.1): never a generic, retryable 6005.
    push_infobip_reports(app, tenant.account_id, "dlr/rejected.json", SENT_AT, SENT_AT + timedelta(seconds=1))

    [log] = logs(app, tenant).json["results"]
    [report] = reports(app, tenant).json["results"]
    for shown in (log, report):
        assert shown["status"]["groupName"] == "REJECTED"
        assert (shown["error"]["id"], shown["error"]["name"], shown["error"]["permanent"]) == (
            6001, "EC_EMAIL_BLACKLISTED", True)


# --- reports ----------------------------------------------------------------------------------


def test_seed_reports_request_replayed_returns_each_report_once(app, tenant, pki):
    post_all(app, tenant, pki, delivered("bbcc6960", "recipient@infobip.com"), sent("m-pending", "p@example.com"))
    response = reports(app, tenant)
    assert response.status_code == 200 and response.mimetype == "application/json"
    [report] = response.json["results"]  # the SENT delivery is not final: no report
    assert list(report) == list(api.SEED_REPORT)
    assert (report["messageId"], report["to"]) == ("bbcc6960", "recipient@infobip.com")
    for same in ("messageCount", "price", "status", "error", "channel"):
        assert report[same] == api.SEED_REPORT[same], same
    assert re.match(api.REPORT_TIME, report["sentAt"])
    assert report["doneAt"] == ses_time(SENT_AT + timedelta(seconds=11.893)).replace("Z", "+0000")
    assert reports(app, tenant).json == {"results": []}  # "Delivery report will be returned only once!"


def test_seed_xml_reports_request_replayed(app, tenant, pki):
    post_all(app, tenant, pki, delivered("bbcc6960", "recipient@infobip.com"))
    response = reports(app, tenant, accept="application/xml")
    assert response.status_code == 200 and response.mimetype == "application/xml"
    assert response.data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    ours, seed = ElementTree.fromstring(response.data), ElementTree.fromstring(api.SEED_REPORTS_XML.encode())
    assert api.shape(ours) == api.shape(seed)
    result = ours.find("results/result")
    assert (result.findtext("messageId"), result.findtext("status/name"), result.findtext("error/permanent"),
            result.findtext("price/currency"), result.findtext("channel")) == (
        "bbcc6960", "DELIVERED_TO_HANDSET", "false", "UNKNOWN", "EMAIL")
    empty = ElementTree.fromstring(reports(app, tenant, accept="application/xml").data)
    assert api.shape(empty) == ["ReportsResponse", [["results", []]]]  # returned once, in XML too


def test_v4_a_forged_cursor_is_a_400_in_infobip_shape(app, tenant):
    """A nextCursor in the right shape but with JSON true for the id passed the check (a bool is an
    int in Python) and the database's refusal was answered E500, so the client retried it forever."""
    forged = base64.urlsafe_b64encode(b'["2026-12-06T01:54:31+00:00", true]').decode()
    response = api.get(app.test_client(), "/email/4/logs", api.app_auth(tenant.key), useCursor="true", cursor=forged)
    assert response.status_code == 400 and response.json["errorCode"] == "E400"
    assert [v["property"] for v in response.json["violations"]] == ["cursor"]


@pytest.mark.parametrize("accept", ["application/xml; charset=UTF-8", "application/xml;charset=utf-8",
                                    "text/xml; charset=utf-8", "application/json;q=0.5, application/xml;charset=UTF-8"])
def test_xml_asked_for_with_a_charset_is_answered_in_xml(app, tenant, pki, accept):
    """An Accept media range with parameters (clients add charset=UTF-8) still names XML, as Infobip's
    server reads it (the type decides, parameters aside). Answered in JSON, the reports were handed out
    once in a body the client's XML parser refuses, so the client never read them."""
    post_all(app, tenant, pki, delivered("bbcc6960", "recipient@infobip.com"))
    response = reports(app, tenant, accept=accept)
    assert response.status_code == 200 and response.mimetype == "application/xml"
    assert ElementTree.fromstring(response.data).findtext("results/result/messageId") == "bbcc6960"
    as_logs = api.get(app.test_client(), LOGS, api.app_auth(tenant.key), accept=accept)
    assert as_logs.status_code == 200 and as_logs.mimetype == "application/json"  # the logs are JSON only


def test_xml_reports_are_well_formed_whatever_an_application_registered(app, tenant, pki):
    """XML 1.0 cannot carry most control characters, not even escaped, and a registered bulkId may
    hold them (a JSON body may): the XML pull answered a body no parser reads, for reports it had
    already handed out. Such a character is shown as U+FFFD; the JSON form keeps it."""
    register(app, tenant, message_id="m1", recipients=["r1@example.com"], bulkId="bulk\u0001\u000b1")
    register(app, tenant, message_id="m2", recipients=["r2@example.com"], bulkId="bulk\u00012")
    post_all(app, tenant, pki, delivered("m1", "r1@example.com"), delivered("m2", "r2@example.com"))
    response = reports(app, tenant, accept="application/xml", messageId="m1")
    assert response.status_code == 200
    [result] = ElementTree.fromstring(response.data).find("results")
    assert result.findtext("bulkId") == "bulk\ufffd\ufffd1"
    [report] = reports(app, tenant, messageId="m2").json["results"]
    assert report["bulkId"] == "bulk\u00012"


@pytest.mark.parametrize("version", ["1", "4"])
def test_a_head_request_hands_no_report_out(app, tenant, pki, version):
    """HEAD is answered as GET is but without a body (RFC 9110 9.3.2): had it pulled, the reports
    it claimed were gone with the body nobody receives (a monitor or link checker's HEAD)."""
    post_all(app, tenant, pki, delivered("m1", "r1@example.com"))
    head = app.test_client().head(f"/email/{version}/reports", headers=api.basic_auth(tenant.key))
    assert head.status_code == 200 and head.mimetype == "application/json" and head.data == b""
    [report] = app.test_client().get(f"/email/{version}/reports", headers=api.basic_auth(tenant.key)).json["results"]
    assert report["messageId"] == "m1"


def test_seed_reports_by_message_id_and_with_a_limit(app, tenant, pki):
    post_all(app, tenant, pki, *[delivered(f"m{n}", f"r{n}@example.com") for n in range(3)],
             delivered("bbcc6960-1fcb-497c-b7ea-83ccba41492e", "recipient@infobip.com"))
    # GET /email/1/reports?messageId=bbcc6960-1fcb-497c-b7ea-83ccba41492e
    [only] = reports(app, tenant, messageId="bbcc6960-1fcb-497c-b7ea-83ccba41492e").json["results"]
    assert only["to"] == "recipient@infobip.com"
    assert reports(app, tenant, messageId="bbcc6960-1fcb-497c-b7ea-83ccba41492e").json["results"] == []
    # GET /email/1/reports?limit=2, as JSON then as XML: the initial two, then the rest
    first = reports(app, tenant, limit=2).json["results"]
    second = ElementTree.fromstring(reports(app, tenant, accept="application/xml", limit=2).data)
    assert [r["messageId"] for r in first] == ["m0", "m1"]  # oldest change first
    assert [r.findtext("messageId") for r in second.find("results")] == ["m2"]
    assert reports(app, tenant, limit=2).json["results"] == []


def test_seed_reports_by_bulk_id(app, tenant, pki):
    for n in (1, 2):
        register(app, tenant, message_id=f"m{n}", recipients=[f"recipient{n}@infobip.com"], bulkId=api.SEED_BULK_ID)
    register(app, tenant, message_id="other", recipients=["x@example.com"], bulkId="another")
    post_all(app, tenant, pki, delivered("m1", "recipient1@infobip.com"), delivered("m2", "recipient2@infobip.com"),
             delivered("other", "x@example.com"))
    results = reports(app, tenant, bulkId=api.SEED_BULK_ID).json["results"]
    assert [(r["bulkId"], r["to"]) for r in results] == [(api.SEED_BULK_ID, "recipient1@infobip.com"),
                                                         (api.SEED_BULK_ID, "recipient2@infobip.com")]
    assert list(results[0]) == ["bulkId", *api.SEED_REPORT]  # bulkId first, as in the seed's example
    xml = ElementTree.fromstring(reports(app, tenant, accept="application/xml", bulkId="another").data)
    assert [r.findtext("bulkId") for r in xml.find("results")] == ["another"]
    assert reports(app, tenant).json["results"] == []


def test_a_delivery_is_reported_again_only_when_its_infobip_report_changes(app, tenant, pki):
    register(app, tenant, message_id="m1", recipients=["r@example.com"])
    assert reports(app, tenant).json["results"] == []  # PENDING: not final
    post_all(app, tenant, pki, sent("m1", "r@example.com"))
    assert reports(app, tenant).json["results"] == []  # SENT: still PENDING for Infobip
    post_all(app, tenant, pki, delivered("m1", "r@example.com"))
    assert [r["status"]["groupName"] for r in reports(app, tenant).json["results"]] == ["DELIVERED"]
    post_all(app, tenant, pki, for_message("event/open.json", "m1", ["r@example.com"]))
    assert reports(app, tenant).json["results"] == []  # opened: the same DELIVERED report
    post_all(app, tenant, pki, bounce("m1", "r@example.com", "Permanent", "fb1", "2026-11-20T10:00:00.000Z"))
    [late] = reports(app, tenant).json["results"]  # an asynchronous bounce after the delivery
    assert (late["status"]["groupName"], late["error"]["permanent"]) == ("UNDELIVERABLE", True)
    acknowledge(app, tenant, "m1", "r@example.com")
    assert reports(app, tenant).json["results"] == []  # acknowledged: the same UNDELIVERABLE report


def test_a_failure_acknowledged_before_any_pull_is_reported_as_the_failure(app, tenant, pki):
    post_all(app, tenant, pki, for_message("event/reject.json", "m1", ["r@example.com"]))
    acknowledge(app, tenant, "m1", "r@example.com")
    [report] = reports(app, tenant).json["results"]
    assert (report["status"]["groupName"], report["error"]["id"]) == ("REJECTED", 6005)
    assert reports(app, tenant).json["results"] == []


def test_reports_skip_rows_another_pull_holds(app, tenant, pki):
    post_all(app, tenant, pki, *[delivered(f"m{n}", f"r{n}@example.com") for n in range(3)])
    with app.extensions["tracker"].db.session() as holder, holder.begin():
        holder.execute(select(Delivery).where(Delivery.message_id == "m1").with_for_update())
        assert sorted(r["messageId"] for r in reports(app, tenant).json["results"]) == ["m0", "m2"]
    assert [r["messageId"] for r in reports(app, tenant).json["results"]] == ["m1"]


def test_a_pull_that_fails_before_answering_leaves_its_reports_to_the_next(app, tenant, pki, monkeypatch):
    """Nothing is lost: the database gone after the claim (here, reading the prices) means a 503 and
    reports still unreported, not reports marked that no client ever received."""
    post_all(app, tenant, pki, *[delivered(f"m{n}", f"r{n}@example.com") for n in range(3)])

    def database_gone(*args, **kwargs):
        raise OperationalError("SELECT ... FROM delivery_events", {}, Exception("server closed the connection"))

    with monkeypatch.context() as patched:
        patched.setattr(compat_infobip.repository, "infobip_prices", database_gone)
        failed = reports(app, tenant)

    assert failed.status_code == 503
    assert sorted(r["messageId"] for r in reports(app, tenant).json["results"]) == ["m0", "m1", "m2"]


@pytest.mark.parametrize("failure", [
    "SELECT pg_terminate_backend(pg_backend_pid())",  # the connection killed (a restart, an operator)
    "SET LOCAL statement_timeout = 1; SELECT pg_sleep(0.05)",  # a statement cancelled, the connection alive
], ids=["connection killed", "statement cancelled"])
def test_a_pull_failing_in_the_database_before_it_answers_leaves_its_reports_to_the_next(app, tenant, pki,
                                                                                        monkeypatch, failure):
    """A database error in the pull after its claim: a 503, as for any database outage, and the claim
    rolled back with it."""
    post_all(app, tenant, pki, *[delivered(f"m{n}", f"r{n}@example.com") for n in range(3)])
    prices = compat_infobip.repository.infobip_prices

    def killed_first(connection, *args, **kwargs):
        with connection.connection.cursor() as cursor:  # the pull's own connection, in its transaction
            cursor.execute(failure)
        return prices(connection, *args, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(compat_infobip.repository, "infobip_prices", killed_first)
        failed = reports(app, tenant)

    assert failed.status_code == 503  # in Infobip's error shape, as any outage
    assert sorted(r["messageId"] for r in reports(app, tenant).json["results"]) == ["m0", "m1", "m2"]


def test_a_pull_claims_and_marks_its_reports_in_one_statement(app, tenant, pki):
    """On PostgreSQL the claim and its mark are one statement (one round trip), in the pull's transaction:
    the reports it hands out are the ones it marked, and the next pull finds none of them."""
    post_all(app, tenant, pki, *[delivered(f"m{n}", f"r{n}@example.com") for n in range(3)])
    engine = app.extensions["tracker"].db.engine
    statements: list[str] = []
    listen = lambda conn, cursor, sql, parameters, context, executemany: statements.append(sql)  # noqa: E731
    event.listen(engine, "before_cursor_execute", listen)
    try:
        pulled = reports(app, tenant).json["results"]
    finally:
        event.remove(engine, "before_cursor_execute", listen)

    [claim] = [sql for sql in statements if "deliveries" in sql]
    assert sorted(r["messageId"] for r in pulled) == ["m0", "m1", "m2"]
    assert "FOR UPDATE" in claim and "UPDATE deliveries SET reported_sequence" in claim
    assert reports(app, tenant).json["results"] == []


def test_a_pull_hands_out_the_version_of_a_delivery_it_marked(app, tenant, pki):
    """A delivery changed and committed while a pull's statement runs is locked and marked in its newest
    version: that version is the one handed out, or its new status would be marked reported unseen.
    (The change is made here by a trigger on the mark itself, standing in for a worker's commit
    between the statement's start and its lock: the same rows, older in the snapshot than as marked.)"""
    post_all(app, tenant, pki, delivered("m0", "r0@example.com"))
    db = app.extensions["tracker"].db
    with db.engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE FUNCTION test_bounce_on_mark() RETURNS trigger AS $$ BEGIN "
            "NEW.status := 'BOUNCED'; NEW.bounce_type := 'PERMANENT'; RETURN NEW; END $$ LANGUAGE plpgsql")
        connection.exec_driver_sql(
            "CREATE TRIGGER test_bounce_on_mark BEFORE UPDATE OF reported_sequence ON deliveries "
            "FOR EACH ROW EXECUTE FUNCTION test_bounce_on_mark()")
    try:
        [report] = reports(app, tenant).json["results"]
    finally:
        with db.engine.begin() as connection:
            connection.exec_driver_sql("DROP TRIGGER test_bounce_on_mark ON deliveries")
            connection.exec_driver_sql("DROP FUNCTION test_bounce_on_mark()")
    with db.session() as session:
        stored = session.scalars(select(Delivery.status).where(Delivery.message_id == "m0")).one()

    assert stored == "BOUNCED"
    assert report["status"]["groupName"] == "UNDELIVERABLE"  # the version marked, not the snapshot's DELIVERED


@pytest.mark.parametrize("version", ["v1", "v4"])
def test_a_pull_that_cannot_render_its_reports_leaves_them_to_the_next(app, tenant, pki, monkeypatch, version):
    """A report that cannot be rendered (a bug) fails the pull before its commit: nothing marked unseen."""
    post_all(app, tenant, pki, *[delivered(f"m{n}", f"r{n}@example.com") for n in range(2)])
    module = compat_infobip if version == "v1" else compat_infobip_v4

    def broken(*args, **kwargs):
        raise KeyError("a renderer's bug")

    with monkeypatch.context() as patched:
        patched.setattr(module, "_report", broken)
        failed = app.test_client().get(f"/email/{version[1]}/reports", headers=api.basic_auth(tenant.key))

    assert failed.status_code == 500
    assert sorted(r["messageId"] for r in reports(app, tenant).json["results"]) == ["m0", "m1"]


def test_concurrent_pulls_never_return_the_same_report(app, tenant, pki):
    post_all(app, tenant, pki, *[delivered(f"m{n:02d}", f"r{n}@example.com") for n in range(24)])
    seen: list[str] = []
    start = threading.Barrier(4)

    def pull():
        start.wait()
        while True:
            results = reports(app, tenant, limit=3).json["results"]
            if not results:
                return
            seen.extend(r["messageId"] for r in results)

    threads = [threading.Thread(target=pull) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(seen) == [f"m{n:02d}" for n in range(24)]  # each once, none lost


@pytest.mark.parametrize("params, parameter", [({"limit": "1001"}, "limit"), ({"limit": "-1"}, "limit"),
                                               ({"limit": "many"}, "limit")])
def test_bad_reports_parameters_answer_infobip_400(app, tenant, params, parameter):
    for accept in ("application/json", "application/xml"):
        response = reports(app, tenant, accept=accept, **params)
        assert response.status_code == 400 and response.mimetype == accept
        exception = api.service_exception(response)
        assert exception["messageId"] == "BAD_REQUEST" and parameter in exception["text"]


# --- tenants ----------------------------------------------------------------------------------


def test_an_account_sees_and_consumes_only_its_own_deliveries(app, tenant, pki):
    other = make_tenant(app, "other", ["*"])
    register(app, tenant, message_id="m1", recipients=["r@example.com"], bulkId="b1")
    post_all(app, tenant, pki, delivered("m1", "r@example.com"))
    for params in ({}, {"messageId": "m1"}, {"bulkId": "b1"}, {"to": "r@example.com"}):
        assert logs(app, other, **params).json["results"] == []
        assert reports(app, other, **params).json["results"] == []
    assert len(logs(app, tenant).json["results"]) == 1
    assert len(reports(app, tenant).json["results"]) == 1  # the other account's pulls consumed nothing


def test_a_database_outage_answers_infobip_shaped_503(app, tenant, monkeypatch):
    from sqlalchemy.exc import OperationalError

    def down(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(compat_infobip.credentials, "caller_from_authorization", down)
    for path in (LOGS, REPORTS):
        response = api.get(app.test_client(), path, api.app_auth(tenant.key))
        assert response.status_code == 503 and response.headers["Retry-After"]
        assert api.service_exception(response)["messageId"] == "GENERAL_ERROR"
