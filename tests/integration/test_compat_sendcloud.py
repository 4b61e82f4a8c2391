"""SendCloud's GET|POST /apiv2/data/emailStatus (seed 003) on real PostgreSQL: envelope, mapping, filters, tenants."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone, UTC

import pytest

from tests.support.harness import drain, make_tenant, push_infobip_reports
from tests.support.ses_events import a_moment_ago, bounce, for_message, recent
from tests.support.sns_signing import notification
from tests.support.webhooks import sendcloud as sendcloud_hooks
from tracker.db import repository
from tracker.http.compat.sendcloud.views import SUB_STATUS_CODES
from tracker.http.compat.sendcloud.mapping import (
    DIAGNOSTICS,
    LABELS,
    STATUS,
    SUBTYPES,
    status_code,
    sub_status,
)
from tracker.domain import BounceType, Status
from tracker.db.models import Account

PATH = "/apiv2/data/emailStatus"
# The seed's "Returned Value Description" table, field by field.
RETURNED_VALUES = ("emailId", "status", "subStatus", "subStatDesc", "apiUser", "recipients", "requestTime",
                   "modifiedTime", "sendLog")
UTC8 = timezone(timedelta(hours=8))
# SendCloud's M1 from tests/fixtures/sendcloud: alice delivered, bob requested, Carol invalid (406).
M1 = "1717235999870_94121_1733_1251.sc-10_9_13_213-inbound"
ALICE, BOB, CAROL = f"{M1}0$alice@example.com", f"{M1}1$bob@example.net", f"{M1}2$Carol@Example.NET"


def get(app, tenant, **params):
    params = {"apiUser": "acme_trigger", "apiKey": tenant.key, "days": "1", **params}
    return app.test_client().get(PATH, query_string={k: v for k, v in params.items() if v is not None}).json


def items(app, tenant, **params) -> list[dict]:
    body = get(app, tenant, **params)
    assert body["result"] is True, body
    return body["info"]["voList"]


def who(found: list[dict]) -> list[str]:
    return sorted(i["recipients"].split("@")[0] for i in found)


# The window counts from the provider's send time (SES mail.timestamp): the recorded events
# are re-timed to have been sent a few minutes ago, and today in UTC+8 (days=1 is today).
SENT_AT = a_moment_ago()


def post_ses(app, tenant, pki, *messages):
    for message in (recent(message, SENT_AT) for message in messages):
        assert app.test_client().post(tenant.hook, data=json.dumps(pki.sign(notification(message)))).status_code == 200
    drain(app)


def post_sendcloud(app, tenant, *fixtures):
    """Push recorded SendCloud webhook events (re-signed, happening now) into the tenant's account."""
    with app.extensions["tracker"].db.transaction() as session:
        account = session.get(Account, tenant.account_id)
        token = repository.create_source(session, account, "sendcloud", secret=sendcloud_hooks.EXAMPLE_SECRET).token
    for name in fixtures:
        body, headers = sendcloud_hooks.signed_request(sendcloud_hooks.fixture(name), sendcloud_hooks.EXAMPLE_SECRET)
        assert app.test_client().post(f"/hooks/sendcloud/{token}", data=body, headers=headers).status_code == 200
    drain(app)


def register(app, tenant, **spec):
    response = app.test_client().post("/api/v1/messages", json=spec, headers=tenant.auth)
    assert response.status_code == 201, response.json
    return response.json


def acknowledge(app, tenant, message_id, recipient):
    deliveries = app.test_client().get("/api/v1/deliveries", query_string={"message_id": message_id},
                                       headers=tenant.auth).json["data"]
    [delivery] = [d for d in deliveries if d["recipient"] == recipient]
    assert app.test_client().post(f"/api/v1/deliveries/{delivery['id']}/acknowledge",
                                  headers=tenant.auth).status_code == 200


def ses_bounce(message_id, recipient, bounce_type, subtype, diagnostic, feedback_id):
    return for_message("event/bounce.json", message_id, [recipient], bounce={
        "bounceType": bounce_type, "bounceSubType": subtype, "feedbackId": feedback_id,
        "timestamp": "2026-11-20T10:00:00.000Z",
        "bouncedRecipients": [{"emailAddress": recipient, "action": "failed", "diagnosticCode": diagnostic}]})


# --- the mapping table, row by row ----------------------------------------------------------

@pytest.mark.parametrize("canonical, bounce_type, expected", [
    ("PENDING", None, "18"), ("SENT", None, "18"), ("RETRY", None, "18"),
    ("DELIVERED", None, "1"), ("OPENED", None, "1"), ("COMPLAINT", None, "1"),
    ("ERROR", None, "4"), ("BOUNCED", "PERMANENT", "4"),
    ("BOUNCED", "TRANSIENT", "5"), ("BOUNCED", "UNDETERMINED", "5"), ("BOUNCED", None, "5"),
])
def test_status_mapping_row(canonical, bounce_type, expected):
    assert status_code(Status(canonical), bounce_type) == expected
    if bounce_type is not None:
        assert STATUS[(Status(canonical), BounceType(bounce_type))] == expected
    assert LABELS[expected] == {"1": "送达", "4": "无效邮件", "5": "软退信", "18": "请求中"}[expected]


def test_the_status_table_covers_every_canonical_status_but_acknowledged():
    assert {status for status, _ in STATUS} == set(Status) - {Status.ACKNOWLEDGED}


# (provider, subtype, diagnostic) -> (subStatus when invalid (4), subStatus when soft (5)), one row per table row.
SUB_STATUS_ROWS = [
    ("sendcloud", "401", None, ("401", "509")), ("sendcloud", "402", None, ("402", "509")),
    ("sendcloud", "403", None, ("403", "503")), ("sendcloud", "404", None, ("404", "509")),
    ("sendcloud", "405", None, ("405", "505")), ("sendcloud", "406", None, ("406", "506")),
    ("sendcloud", "407", None, ("407", "507")), ("sendcloud", "408", None, ("408", "508")),
    ("sendcloud", "409", None, ("409", "509")), ("sendcloud", "503", None, ("403", "503")),
    ("sendcloud", "505", None, ("405", "505")), ("sendcloud", "506", None, ("406", "506")),
    ("sendcloud", "507", None, ("407", "507")), ("sendcloud", "508", None, ("408", "508")),
    ("sendcloud", "509", None, ("409", "509")),
    ("ses", "NoEmail", None, ("406", "506")), ("ses", "Suppressed", None, ("401", "509")),
    ("ses", "OnAccountSuppressionList", None, ("401", "509")), ("ses", "MailboxFull", None, ("409", "509")),
    ("ses", "MessageTooLarge", None, ("409", "509")), ("ses", "ContentRejected", None, ("407", "507")),
    ("ses", "AttachmentRejected", None, ("407", "507")),
    ("sendgrid", "Invalid Address", None, ("406", "506")), ("sendgrid", "Technical", None, ("403", "503")),
    ("sendgrid", "Content", None, ("407", "507")), ("sendgrid", "Reputation", None, ("405", "505")),
    ("sendgrid", "Frequency or Volume Too High", None, ("409", "509")),
    ("sendgrid", "Mailbox Unavailable", None, ("409", "509")),
    ("mailgun", "suppress-bounce", None, ("401", "509")), ("mailgun", "suppress-complaint", None, ("401", "509")),
    ("mailgun", "suppress-unsubscribe", None, ("402", "509")), ("mailgun", "espblock", None, ("405", "505")),
    ("postmark", "BadEmailAddress", None, ("404", "509")), ("postmark", "ManuallyDeactivated", None, ("401", "509")),
    ("postmark", "DnsError", None, ("403", "503")), ("postmark", "SpamNotification", None, ("407", "507")),
    ("postmark", "VirusNotification", None, ("407", "507")), ("postmark", "Blocked", None, ("405", "505")),
    ("postmark", "DMARCPolicy", None, ("408", "508")),
    ("infobip", "EC_EMAIL_BLACKLISTED", None, ("401", "509")),
    ("infobip", "EC_BOUNCED_EMAIL_ADDRESS", None, ("401", "509")),
    ("infobip", "EC_SUPPRESSED_BOUNCE", None, ("401", "509")),
    ("infobip", "EC_SUPPRESSED_SPAM_COMPLAINT", None, ("401", "509")),
    ("infobip", "EC_EMAIL_UNSUBSCRIBED_EMAIL_ADDRESS", None, ("402", "509")),
    ("infobip", "EC_INVALID_EMAIL_ADDRESS", None, ("404", "509")),
    ("infobip", "EC_EMAIL_SENDER_DOMAIN_BLOCKED", None, ("405", "505")),
    ("infobip", "EC_EMAIL_IP_BLACKLISTED", None, ("405", "505")),
    ("infobip", "EC_MAILBOX_UNAVAILABLE", None, ("406", "506")),
    ("infobip", "EC_EMAILS_SPAM_CONTENT", None, ("407", "507")),
    # the diagnostic rows: enhanced status codes when the subtype says nothing specific
    ("ses", "General", "smtp; 550 5.1.1 <jane@example.com>... User unknown", ("406", "506")),
    ("ses", "General", "smtp; 553 5.1.3 bad address syntax", ("404", "509")),
    ("ses", "General", "smtp; 550 5.1.2 host unknown", ("403", "503")),
    ("ses", "Undetermined", "smtp; 451 4.4.7 delivery time expired", ("403", "503")),
    ("postmark", "HardBounce", "550 5.7.1 message refused by policy", ("408", "508")),
    ("sendgrid", "5.1.1", None, ("406", "506")),  # older SendGrid payloads: the enhanced code is the subtype
    # nothing specific: other
    ("ses", "General", "smtp; 550 mailbox unavailable", ("409", "509")),
    ("infobip", "EC_HARD_BOUNCE", None, ("409", "509")),
    ("ses", None, None, ("409", "509")),
    ("ses", "General", "connection from 10.5.1.1 refused", ("409", "509")),  # an IP is no status code
    ("ses", "General", "smtp; 550 5.1.10 null MX", ("409", "509")),  # 5.1.10 is not 5.1.1
    ("ses", "NoEmail", "smtp; 550 5.7.1 refused", ("406", "506")),  # the subtype wins over the diagnostic
]


@pytest.mark.parametrize("provider, subtype, diagnostic, expected", SUB_STATUS_ROWS)
def test_sub_status_row(provider, subtype, diagnostic, expected):
    assert (sub_status("4", provider, subtype, diagnostic), sub_status("5", provider, subtype, diagnostic)) == expected
    assert {sub_status(code, provider, subtype, diagnostic) for code in ("1", "18")} == {None}


def test_every_subtype_row_and_diagnostic_pattern_is_tested():
    assert set(SUBTYPES) <= {(p, s) for p, s, d, _ in SUB_STATUS_ROWS if d is None}
    assert len(DIAGNOSTICS) == 5  # one SUB_STATUS_ROWS row each: 5.1.1, 5.1.3, 5.1.2, 4.4.7, 5.7.1
    assert set(SUB_STATUS_CODES) == {"401", "402", "403", "404", "405", "406", "407", "408", "409",
                                     "503", "505", "506", "507", "508", "509"}


# --- the seed's examples ----------------------------------------------------------------------

def test_the_seed_request_example_returns_the_documented_envelope(app, tenant):
    post_sendcloud(app, tenant, "form/request.txt", "form/deliver.txt", "form/invalid.txt")
    # The seed's request: ...?apiUser=***&apiKey=***&days=2&emailIds=***;***, replayed with the
    # tenant's key and two real emailIds in place of the *** placeholders.
    response = app.test_client().get(f"{PATH}?apiUser=acme_trigger&apiKey={tenant.key}&days=2&emailIds={ALICE};{CAROL}")
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.json
    assert list(body) == ["result", "statusCode", "message", "info"]
    assert (body["result"], body["statusCode"], body["message"]) == (True, 200, "请求成功")
    assert list(body["info"]) == ["total", "voListSize", "voList"]
    assert (body["info"]["total"], body["info"]["voListSize"]) == ("2", 2)
    delivered, invalid = sorted(body["info"]["voList"], key=lambda i: i["recipients"])
    # Every item has every field of the seed's "Returned Value Description" table, and the
    # example's spelling of the description (subStatusDesc) too.
    for item in (delivered, invalid):
        assert set(item) == set(RETURNED_VALUES) | {"subStatusDesc"}
        assert item["subStatusDesc"] == item["subStatDesc"]
    # The seed's example item for 送达 has subStatus and subStatusDesc null ...
    assert (delivered["emailId"], delivered["status"], delivered["subStatus"], delivered["subStatusDesc"]) == (
        ALICE, "送达", None, None)
    assert (delivered["apiUser"], delivered["recipients"]) == ("acme_trigger", "alice@example.com")
    # ... and its 无效邮件 item subStatus "406" with subStatDesc "地址不存在".
    assert (invalid["emailId"], invalid["status"], invalid["subStatus"], invalid["subStatDesc"]) == (
        CAROL, "无效邮件", "406", "地址不存在")
    assert invalid["sendLog"] == "550 5.1.1 <carol@example.net>: Recipient address rejected: User unknown"
    for item in (delivered, invalid):
        for name in ("requestTime", "modifiedTime"):  # yyyy-MM-dd HH:mm:ss, UTC+8
            moment = datetime.strptime(item[name], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC8)
            assert abs(moment - datetime.now(UTC)) < timedelta(minutes=10)
    assert '"请求成功"' in response.get_data(as_text=True)  # UTF-8, as SendCloud writes it


def test_post_takes_the_same_parameters_as_form_fields(app, tenant):
    post_sendcloud(app, tenant, "form/request.txt", "form/deliver.txt", "form/invalid.txt")
    form = {"apiUser": "acme_trigger", "apiKey": tenant.key, "days": "2", "emailIds": f"{ALICE};{CAROL}"}
    posted = app.test_client().post(PATH, data=form)
    assert posted.status_code == 200
    assert posted.json == app.test_client().get(PATH, query_string=form).json
    assert posted.json["info"]["total"] == "2"
    bob = items(app, tenant, email="Bob@Example.NET")
    assert [(i["emailId"], i["status"], i["subStatus"]) for i in bob] == [(BOB, "请求中", None)]


# --- authentication and errors -------------------------------------------------------------

def test_apikey_is_an_api_key_and_apiuser_any_value(app, tenant):
    assert get(app, tenant, apiUser="anything-at-all")["result"] is True
    assert get(app, tenant, apiUser="acme")["result"] is True
    for params in ({"apiUser": None}, {"apiUser": ""}, {"apiKey": None}, {"apiKey": "trk_0000000000000000_nope"},
                   {"apiKey": "not-a-key"}):
        assert get(app, tenant, **params) == {"result": False, "statusCode": 40005, "message": "认证失败", "info": {}}
    response = app.test_client().post(PATH, data={"apiUser": "x", "days": "1"})
    assert response.status_code == 200 and response.json["statusCode"] == 40005


def test_a_revoked_key_fails_authentication(app, tenant):
    with app.extensions["tracker"].db.transaction() as session:
        second = repository.create_api_key(session, session.get(Account, tenant.account_id))
    assert get(app, tenant, apiKey=second)["result"] is True
    with app.extensions["tracker"].db.transaction() as session:
        assert repository.revoke_key(session, second.split("_")[1])
    assert get(app, tenant, apiKey=second)["statusCode"] == 40005
    assert get(app, tenant)["result"] is True  # the other key lives


def test_a_read_only_key_queries_by_get_and_post_alike(app, tenant):
    # The query reads whichever method carries it: a POST here is not a write to refuse.
    with app.extensions["tracker"].db.transaction() as session:
        reader = repository.create_api_key(session, session.get(Account, tenant.account_id), role="read-only")
    form = {"apiUser": "u", "apiKey": reader, "days": "1"}
    for response in (app.test_client().get(PATH, query_string=form), app.test_client().post(PATH, data=form)):
        assert response.status_code == 200 and response.json["result"] is True, response.json


def test_a_refused_caller_is_not_counted_and_bad_parameters_are_after_the_limit(make_app, redis_url):
    app = make_app(rate_limits="sendcloud=1", broker_url=redis_url)
    tenant = make_tenant(app, "acme", ["*"])
    for _ in range(3):  # failed authentication spends nothing of the account's limit
        assert get(app, tenant, apiKey="trk_0000000000000000_nope")["statusCode"] == 40005
    assert get(app, tenant, days="0")["statusCode"] == 40202  # counted, then refused for its parameters
    limited = app.test_client().get(PATH, query_string={"apiUser": "u", "apiKey": tenant.key, "days": "0"})
    assert (limited.status_code, limited.json["statuscode"]) == (200, 50000)  # the limit is checked first
    assert "Retry-After" not in limited.headers  # SendCloud's answer, as TIPS 5 gives it


@pytest.mark.parametrize("params, code", [
    ({"days": None}, 40201),  # no time span at all
    ({"days": None, "startDate": "2024-06-01"}, 40201),  # half a span
    ({"days": None, "endDate": "2024-06-01"}, 40201),
    ({"startDate": "2024-06-01", "endDate": "2024-06-02"}, 40201),  # both forms at once
    ({"days": "0"}, 40202), ({"days": "31"}, 40202), ({"days": "two"}, 40202), ({"days": "-1"}, 40202),
    ({"days": None, "startDate": "2024/06/01", "endDate": "2024-06-02"}, 40203),  # bad date
    ({"days": None, "startDate": "2024-06-01", "endDate": "2024-13-01"}, 40203),
    ({"days": None, "startDate": "yyyy-MM-dd", "endDate": "2024-06-02"}, 40203),
    ({"days": None, "startDate": "2024-06-01", "endDate": "2024-07-02"}, 40204),  # 31 days: span too long
    ({"days": None, "startDate": "2024-06-02", "endDate": "2024-06-01"}, 40204),  # backwards
    ({"start": "-1"}, 40205), ({"start": "x"}, 40205), ({"start": "10001"}, 40205),  # past MAX_START
    ({"limit": "101"}, 40206), ({"limit": "-1"}, 40206), ({"limit": "ten"}, 40206),  # limit past max
    ({"status": "2"}, 40207), ({"status": "delivered"}, 40207), ({"status": "1;3"}, 40207),  # unknown status
    ({"subStatus": "410"}, 40208), ({"subStatus": "406;504"}, 40208), ({"subStatus": "x"}, 40208),
    ({"emailIds": ";".join(f"id{n}" for n in range(1001))}, 40209),
    # Past the digits Python's int() reads from text (4300): still a refusal, not a 500.
    ({"start": "1" * 5000}, 40205), ({"limit": "1" * 5000}, 40206), ({"days": "1" * 5000}, 40202),
])
def test_each_bad_parameter_gets_a_sendcloud_error(app, tenant, params, code):
    response = app.test_client().get(PATH, query_string={k: v for k, v in {
        "apiUser": "u", "apiKey": tenant.key, "days": "1", **params}.items() if v is not None})
    assert response.status_code == 200  # SendCloud answers 200 with result false
    body = response.json
    assert list(body) == ["result", "statusCode", "message", "info"]
    assert (body["result"], body["statusCode"], body["info"]) == (False, code, {})
    assert body["message"]


# --- the time window -----------------------------------------------------------------------

def test_days_and_start_end_dates_are_utc8_calendar_days(app, tenant, pki):
    post_ses(app, tenant, pki, for_message("event/send.json", "m1", ["r@example.com"]))
    today = datetime.now(UTC8).date()
    assert who(items(app, tenant, days="1")) == ["r"]  # days=1 is today
    assert who(items(app, tenant, days="30")) == ["r"]
    assert who(items(app, tenant, days=None, startDate=str(today), endDate=str(today))) == ["r"]
    thirty = {"days": None, "startDate": str(today - timedelta(days=30)), "endDate": str(today)}
    assert who(items(app, tenant, **thirty)) == ["r"]  # endDate - startDate = 30 days: the most allowed
    assert items(app, tenant, days=None, startDate=str(today - timedelta(days=3)),
                 endDate=str(today - timedelta(days=1))) == []
    assert items(app, tenant, days=None, startDate=str(today + timedelta(days=1)),
                 endDate=str(today + timedelta(days=2))) == []


@pytest.mark.parametrize("first, last", [("9999-12-31", "9999-12-31"), ("9999-12-30", "9999-12-31"),
                                         ("0001-01-01", "0001-01-02")])
def test_dates_at_the_calendars_edges_find_nothing_rather_than_fail(app, tenant, pki, first, last):
    """Midnight of 0001-01-01 in UTC+8 is year 0 in UTC, and the day after 9999-12-31 is no date:
    the window is held at the calendar's edge, as the other APIs' time filters are (DESIGN 3b:
    input never causes a 5xx)."""
    post_ses(app, tenant, pki, for_message("event/send.json", "m1", ["r@example.com"]))
    response = app.test_client().get(PATH, query_string={"apiUser": "u", "apiKey": tenant.key,
                                                         "startDate": first, "endDate": last})
    assert response.status_code == 200 and response.json["result"] is True, response.json
    assert response.json["info"]["voList"] == []


# --- status, subStatus and the mapping through real events ----------------------------------

def one_of_each():
    """SES events putting one delivery in each canonical status (but PENDING and ACKNOWLEDGED)."""
    def m(n):
        return f"{n}@example.com"
    return [
        for_message("event/send.json", "m-sent", [m("sent")]),
        for_message("event/delivery-delay.json", "m-retry", [m("retry")],
                    deliveryDelay={"delayedRecipients": [{"emailAddress": m("retry")}]}),
        for_message("event/delivery.json", "m-delivered", [m("delivered")], delivery={"recipients": [m("delivered")]}),
        for_message("event/open.json", "m-opened", [m("opened")]),
        for_message("event/reject.json", "m-error", [m("error")]),
        bounce("m-hard", m("hard"), "Permanent", "fb1", "2026-11-20T10:00:00.000Z"),
        ses_bounce("m-soft", m("soft"), "Transient", "MailboxFull", "smtp; 452 4.2.2 mailbox full", "fb2"),
        ses_bounce("m-undetermined", m("undetermined"), "Undetermined", "Undetermined", None, "fb3"),
        for_message("event/complaint.json", "m-complaint", [m("complaint")],
                    complaint={"complainedRecipients": [{"emailAddress": m("complaint")}]}),
        ses_bounce("m-acked-hard", m("acked-hard"), "Permanent", "NoEmail", "smtp; 550 5.1.1 no such user", "fb4"),
        ses_bounce("m-acked-soft", m("acked-soft"), "Transient", "ContentRejected", "smtp; 554 content", "fb5"),
        for_message("event/complaint.json", "m-acked-complaint", [m("acked-complaint")],
                    complaint={"complainedRecipients": [{"emailAddress": m("acked-complaint")}]}),
        for_message("event/reject.json", "m-acked-error", [m("acked-error")]),
        # two failures each: the acknowledged one is the highest-ranked, then the latest
        ses_bounce("m-acked-two", m("acked-two"), "Transient", "General", None, "fb6"),
        for_message("event/complaint.json", "m-acked-two", [m("acked-two")],
                    complaint={"complainedRecipients": [{"emailAddress": m("acked-two")}]}),
        ses_bounce("m-acked-late", m("acked-late"), "Permanent", "NoEmail", None, "fb7"),
        later_bounce("m-acked-late", m("acked-late"), "Transient", "MailboxFull", "fb8"),
    ]


def later_bounce(message_id, recipient, bounce_type, subtype, feedback_id):
    event = ses_bounce(message_id, recipient, bounce_type, subtype, None, feedback_id)
    event["bounce"]["timestamp"] = "2026-11-20T11:00:00.000Z"
    return event


def test_status_filter_and_labels_follow_the_mapping_including_acknowledged(app, tenant, pki):
    post_ses(app, tenant, pki, *one_of_each())
    register(app, tenant, message_id="m-pending", recipients=["pending@example.com"])
    for name in ("acked-hard", "acked-soft", "acked-complaint", "acked-error", "acked-two", "acked-late"):
        acknowledge(app, tenant, f"m-{name}", f"{name}@example.com")

    everything = {i["recipients"].split("@")[0]: i for i in items(app, tenant)}
    assert {name: (i["status"], i["subStatus"]) for name, i in everything.items()} == {
        "pending": ("请求中", None), "sent": ("请求中", None), "retry": ("请求中", None),
        "delivered": ("送达", None), "opened": ("送达", None), "complaint": ("送达", None),
        "error": ("无效邮件", "409"), "hard": ("无效邮件", "406"),
        "soft": ("软退信", "509"), "undetermined": ("软退信", "509"),
        # ACKNOWLEDGED renders as the failure it acknowledged
        "acked-hard": ("无效邮件", "406"), "acked-soft": ("软退信", "507"),
        "acked-complaint": ("送达", None), "acked-error": ("无效邮件", "409"),
        "acked-two": ("送达", None), "acked-late": ("软退信", "509"),
    }
    assert everything["acked-hard"]["sendLog"] == "smtp; 550 5.1.1 no such user"
    assert everything["acked-hard"]["subStatDesc"] == "地址不存在"
    assert everything["delivered"]["sendLog"] == "250 2.6.0 Message received"
    assert everything["error"]["sendLog"] == "Bad content"

    assert who(items(app, tenant, status="18")) == ["pending", "retry", "sent"]
    assert who(items(app, tenant, status="1")) == ["acked-complaint", "acked-two", "complaint", "delivered", "opened"]
    assert who(items(app, tenant, status="4")) == ["acked-error", "acked-hard", "error", "hard"]
    assert who(items(app, tenant, status="5")) == ["acked-late", "acked-soft", "soft", "undetermined"]
    # status=1,status=4 (the seed's example): the parameter repeated means either, as 1;4 does
    both = who(items(app, tenant, status=["1", "4"]))
    assert both == who(items(app, tenant, status="1;4")) == sorted(
        who(items(app, tenant, status="1")) + who(items(app, tenant, status="4")))
    posted = app.test_client().post(PATH, data={"apiUser": "u", "apiKey": tenant.key, "days": "1",
                                                "status": ["1", "4"]}).json["info"]["voList"]
    assert who(posted) == both
    assert get(app, tenant, status=["1", "2"])["statusCode"] == 40207  # an unknown code among them
    assert sorted(who(items(app, tenant, status="4;5"))) == sorted(
        who(items(app, tenant, status="4")) + who(items(app, tenant, status="5")))
    # every subStatus filter returns exactly the items rendered with that subStatus
    for code in SUB_STATUS_CODES:
        expected = sorted(n for n, i in everything.items() if i["subStatus"] == code)
        assert who(items(app, tenant, subStatus=code)) == expected, code
    assert who(items(app, tenant, subStatus="406; 507")) == ["acked-hard", "acked-soft", "hard"]
    assert who(items(app, tenant, substatus="409")) == ["acked-error", "error"]  # the seed's lowercase spelling
    assert items(app, tenant, status="1", subStatus="406") == []
    assert who(items(app, tenant, status="5", subStatus="509")) == ["acked-late", "soft", "undetermined"]
    assert who(items(app, tenant, subStatus=["406", "507"])) == ["acked-hard", "acked-soft", "hard"]


def test_sub_status_of_real_bounces_by_subtype_and_diagnostic(app, tenant, pki):
    post_ses(app, tenant, pki,
             ses_bounce("m1", "noemail@example.com", "Permanent", "NoEmail", None, "f1"),
             ses_bounce("m2", "suppressed@example.com", "Permanent", "Suppressed", None, "f2"),
             ses_bounce("m3", "syntax@example.com", "Permanent", "General", "smtp; 553 5.1.3 bad syntax", "f3"),
             ses_bounce("m4", "expired@example.com", "Undetermined", "Undetermined",
                        "smtp; 451 4.4.7 delivery expired", "f4"),
             ses_bounce("m5", "policy@example.com", "Transient", "General", "smtp; 550 5.7.1 refused", "f5"))
    post_sendcloud(app, tenant, "form/request.txt", "form/invalid.txt", "form/soft_bounce.txt")
    found = {i["recipients"]: (i["status"], i["subStatus"], i.get("subStatDesc"))
             for i in items(app, tenant, status="4;5")}
    assert found == {
        "noemail@example.com": ("无效邮件", "406", "地址不存在"),
        "suppressed@example.com": ("无效邮件", "401", "SendCloud黑名单中"),
        "syntax@example.com": ("无效邮件", "404", "地址格式错误"),
        "expired@example.com": ("软退信", "503", "服务不可达"),
        "policy@example.com": ("软退信", "508", "发件人/收件人被拒"),
        "carol@example.net": ("无效邮件", "406", "地址不存在"),  # SendCloud's own subStat
        "dave@example.org": ("软退信", "503", "服务不可达"),
    }
    assert who(items(app, tenant, subStatus="503")) == ["dave", "expired"]
    assert who(items(app, tenant, subStatus="401;404")) == ["suppressed", "syntax"]


def test_sub_status_of_a_rejection_infobip_reported(app, tenant):
    # dlr/rejected.json: Infobip refused to send to a blacklisted address (REJECTED, error 6001
    # EC_EMAIL_BLACKLISTED): 无效邮件 with subStatus 401 (SendCloud黑名单中), not 409 (其他).
    push_infobip_reports(app, tenant.account_id, "dlr/rejected.json", SENT_AT, SENT_AT)  # today in UTC+8: days=1
    [item] = items(app, tenant)
    assert (item["recipients"], item["status"], item["subStatus"], item["subStatDesc"]) == (
        "blocked@example.com", "无效邮件", "401", "SendCloud黑名单中")
    assert who(items(app, tenant, subStatus="401")) == ["blocked"]


# --- the other filters -----------------------------------------------------------------------

def test_email_and_email_ids(app, tenant, pki):
    post_ses(app, tenant, pki, for_message("event/send.json", "ses-1", ["a@example.com", "b@example.com"]),
             for_message("event/send.json", "ses-2", ["a@example.com"]))
    post_sendcloud(app, tenant, "form/request.txt")
    assert who(items(app, tenant, email="A@Example.com")) == ["a", "a"]
    assert items(app, tenant, email="nobody@example.com") == [] and items(app, tenant, email="not an address") == []
    # non-SendCloud deliveries: emailId = message_id$recipient; SendCloud's: its own emailId
    by_id = {i["emailId"]: i["recipients"] for i in items(app, tenant)}
    assert by_id == {"ses-1$a@example.com": "a@example.com", "ses-1$b@example.com": "b@example.com",
                     "ses-2$a@example.com": "a@example.com", ALICE: "alice@example.com",
                     BOB: "bob@example.net", CAROL: "carol@example.net"}
    chosen = items(app, tenant, emailIds=f"ses-1$b@example.com;{CAROL}; ses-2$a@example.com ;unknown")
    assert sorted(i["emailId"] for i in chosen) == sorted(["ses-1$b@example.com", CAROL, "ses-2$a@example.com"])


def test_label_id_is_exact_label_name_fuzzy_and_label_id_wins(app, tenant):
    register(app, tenant, message_id="m1", recipients=["one@example.com"], labelId=12345, labelName="月度账单")
    register(app, tenant, message_id="m2", recipients=["two@example.com"], labelId="678", labelName="Weekly_news")
    register(app, tenant, message_id="m3", recipients=["three@example.com"])
    assert who(items(app, tenant, labelId="12345")) == ["one"]
    assert items(app, tenant, labelId="1234") == []
    assert who(items(app, tenant, labelName="账单")) == ["one"]
    assert who(items(app, tenant, labelName="weekly")) == ["two"]  # fuzzy: a substring, any case
    assert items(app, tenant, labelName="y_n%") == []  # % and _ are literal characters
    assert who(items(app, tenant, labelName="y_n")) == ["two"]
    assert who(items(app, tenant, labelId="678", labelName="账单")) == ["two"]  # labelId preferred
    # The total counts what the label selects too (its count joins the messages; others need not).
    totals = [get(app, tenant, **label)["info"]["total"]
              for label in ({"labelId": "12345"}, {"labelName": "y_n"}, {"labelName": "nothing"}, {})]
    assert totals == ["1", "1", "0", "3"]


def test_start_limit_and_total(app, tenant, pki):
    post_ses(app, tenant, pki, *[for_message("event/send.json", f"m{n}", [f"r{n}@example.com"]) for n in range(7)])
    body = get(app, tenant)
    assert (body["info"]["total"], body["info"]["voListSize"]) == ("7", 7)  # limit defaults to 100
    everything = [i["emailId"] for i in body["info"]["voList"]]
    pages = [get(app, tenant, start=str(s), limit="3")["info"] for s in (0, 3, 6)]
    assert [p["voListSize"] for p in pages] == [3, 3, 1] and {p["total"] for p in pages} == {"7"}
    assert [i["emailId"] for p in pages for i in p["voList"]] == everything
    assert get(app, tenant, limit="0")["info"] == {"total": "7", "voListSize": 0, "voList": []}
    assert get(app, tenant, start="10000", limit="100")["info"]["voList"] == []


@pytest.mark.parametrize("marks", ["in process", "redis"])
def test_a_walk_pages_on_the_total_its_first_page_counted(make_app, redis_url, pki, marks):
    """SendCloud caches a query's result for 10 minutes (seed TIPS 4): a page walked to from the one
    before it shows that page's total, even after a delivery arrived between them; a new walk, or a
    page jumped to, counts anew. The rows themselves are live."""
    app = make_app(broker_url=redis_url) if marks == "redis" else make_app()
    tenant = make_tenant(app, "acme", ["*"])
    post_ses(app, tenant, pki, *[for_message("event/send.json", f"m{n}", [f"r{n}@example.com"]) for n in range(7)])
    assert get(app, tenant, start="0", limit="3")["info"]["total"] == "7"
    post_ses(app, tenant, pki, for_message("event/send.json", "late", ["late@example.com"]))
    walked = get(app, tenant, start="3", limit="3")["info"]
    assert walked["total"] == "7" and walked["voListSize"] == 3  # handed on from the page before
    assert get(app, tenant, start="6", limit="3")["info"]["total"] == "7"  # and on again
    assert get(app, tenant, start="5", limit="3")["info"]["total"] == "8"  # jumped to: counted
    assert get(app, tenant, start="0", limit="3")["info"]["total"] == "8"  # a new walk: counted
    assert get(app, tenant, start="3", limit="3")["info"]["total"] == "8"  # and handed on


def test_a_walks_total_is_handed_on_for_ten_minutes_and_within_one_days_window(app, tenant, pki, monkeypatch):
    """As SendCloud's cache: a total older than page_marks.MARK_TTL is counted again, however the walk
    went on; so is one counted for another window (days=N moves at midnight in Beijing)."""
    from tracker.http.compat.sendcloud import views

    clock = [1_800_000_000.0]
    monkeypatch.setattr(views, "epoch_seconds", lambda: clock[0])
    post_ses(app, tenant, pki, *[for_message("event/send.json", f"m{n}", [f"r{n}@example.com"]) for n in range(9)])

    def total(start: str, **params) -> str:
        return get(app, tenant, start=start, limit="3", days="2", **params)["info"]["total"]

    assert total("0") == "9"
    post_ses(app, tenant, pki, for_message("event/send.json", "late", ["late@example.com"]))
    clock[0] += 300
    assert total("3") == "9"  # counted 5 minutes ago: handed on
    clock[0] += 301
    assert total("6") == "10"  # counted 10 minutes and a second ago: counted again

    real_now = datetime.now

    class Tomorrow(datetime):  # Beijing's next day: days=2 is another window
        @classmethod
        def now(cls, tz=None):
            return real_now(tz) + timedelta(days=1)

    assert total("0") == "10"
    post_ses(app, tenant, pki, for_message("event/send.json", "later", ["later@example.com"]))
    monkeypatch.setattr(views, "datetime", Tomorrow)
    assert total("3") == "11"  # the mark and total of yesterday's window are not this query's


# --- tenants and the rate limit --------------------------------------------------------------

def test_another_accounts_key_never_sees_this_accounts_deliveries(app, tenant, pki):
    other = make_tenant(app, "other", ["*"])
    post_ses(app, tenant, pki, for_message("event/send.json", "m1", ["r@example.com"]))
    post_sendcloud(app, tenant, "form/request.txt")
    assert get(app, tenant)["info"]["total"] == "4"
    for params in ({}, {"emailIds": f"m1$r@example.com;{ALICE}"}, {"email": "r@example.com"}, {"status": "18"}):
        assert get(app, other, **params)["info"] == {"total": "0", "voListSize": 0, "voList": []}


def test_over_the_limit_answers_sendclouds_frequency_error(make_app, redis_url):
    app = make_app(rate_limits="sendcloud=2", broker_url=redis_url)  # Redis counts: fresh for this test
    tenant, other = make_tenant(app, "acme", ["*"]), make_tenant(app, "other", ["*"])
    assert [get(app, tenant)["result"] for _ in range(2)] == [True, True]
    limited = app.test_client().get(PATH, query_string={"apiUser": "u", "apiKey": tenant.key, "days": "1"})
    assert limited.status_code == 200
    # exactly the seed's TIPS 5 body, lowercase "statuscode" included
    assert json.loads(limited.get_data()) == {"result": False, "statuscode": 50000,
                                              "message": "interface frequency is limited", "info": {}}
    posted = app.test_client().post(PATH, data={"apiUser": "u", "apiKey": tenant.key, "days": "1"})
    assert posted.json["statuscode"] == 50000
    assert get(app, other)["result"] is True  # per account
    assert app.test_client().get("/api/v1/deliveries", headers=tenant.auth).status_code == 200  # per style


def test_a_database_outage_still_answers_sendclouds_envelope(app, tenant, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from tracker.http.compat.sendcloud import views as compat_sendcloud

    def down(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(compat_sendcloud.credentials, "caller_from_api_key", down)
    for response in (app.test_client().get(PATH, query_string={"apiUser": "u", "apiKey": tenant.key, "days": "1"}),
                     app.test_client().post(PATH, data={"apiUser": "u", "apiKey": tenant.key, "days": "1"})):
        assert response.status_code == 503 and int(response.headers["Retry-After"]) > 0
        body = response.json
        assert list(body) == ["result", "statusCode", "message", "info"]
        assert body["result"] is False and body["statusCode"] not in (200, 50000) and body["info"] == {}
