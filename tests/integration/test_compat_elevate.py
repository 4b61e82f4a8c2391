"""Elevate's GET /v1/email-status (seed 000) on real PostgreSQL: JWT auth, filters, mapping, tenants."""
from __future__ import annotations

import json
import time

import jwt
import pytest

from tests.support.harness import drain, make_tenant
from tests.support.ses_events import bounce, for_message
from tests.support.sns_signing import notification
from tracker.http.compat.elevate.views import STATUS
from tracker.domain import Status


def token_for(tenant, **claims) -> str:
    key_id = tenant.key.split("_")[1]
    return jwt.encode({"iat": int(time.time()), **claims}, tenant.key, algorithm="HS256", headers={"kid": key_id})


def get(app, tenant, token=None, **params):
    token = token or token_for(tenant)
    return app.test_client().get("/v1/email-status", query_string=params,
                                 headers={"Authorization": f"Bearer {token}"})


def post_all(app, tenant, pki, *messages):
    for message in messages:
        assert app.test_client().post(tenant.hook, data=json.dumps(pki.sign(notification(message)))).status_code == 200
    drain(app)


def one_of_each(address):
    """SES events putting one delivery in each canonical status (but PENDING and ACKNOWLEDGED)."""
    def m(n):
        return f"{n}@example.com"
    return {
        "SENT": for_message("event/send.json", "m-sent", [m("sent")]),
        "RETRY": for_message("event/delivery-delay.json", "m-retry", [m("retry")],
                             deliveryDelay={"delayedRecipients": [{"emailAddress": m("retry")}]}),
        "DELIVERED": for_message("event/delivery.json", "m-delivered", [m("delivered")],
                                 delivery={"recipients": [m("delivered")]}),
        "OPENED": for_message("event/open.json", "m-opened", [m("opened")]),
        "ERROR": for_message("event/reject.json", "m-error", [m("error")]),
        "BOUNCED": bounce("m-bounced", m("bounced"), "Permanent", "fb1", "2026-11-20T10:00:00.000Z"),
        "COMPLAINT": for_message("event/complaint.json", "m-complaint", [m("complaint")],
                                 complaint={"complainedRecipients": [{"emailAddress": m("complaint")}]}),
    }


def test_a_jwt_signed_with_the_api_key_or_the_key_itself_authenticates(app, tenant):
    assert get(app, tenant).status_code == 200
    assert get(app, tenant, token=tenant.key).status_code == 200
    for bad in (jwt.encode({}, "another-secret-that-is-long-enough-for-hs256", algorithm="HS256",
                           headers={"kid": tenant.key.split("_")[1]}),
                jwt.encode({}, tenant.key, algorithm="HS256", headers={"kid": "0000000000000000"}),
                token_for(tenant, exp=int(time.time()) - 60),
                "not-a-token"):
        response = get(app, tenant, token=bad)
        assert response.status_code == 401 and set(response.json) == {"error", "detail"}
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="elevate"'  # RFC 9110 15.5.2
    unsigned = app.test_client().get("/v1/email-status")
    assert unsigned.status_code == 401 and unsigned.headers["WWW-Authenticate"] == 'Bearer realm="elevate"'


@pytest.mark.parametrize("ahead", [1, 20])
def test_a_jwt_from_a_client_whose_clock_runs_a_little_ahead_authenticates(app, tenant, ahead):
    """JWT libraries stamp iat (Node's jsonwebtoken always does) and often nbf with the client's
    clock: one that runs even a second ahead of the tracker's made a fresh token "not yet
    valid", an intermittent 401. Small skews are allowed; a token from far ahead is not."""
    now = int(time.time())
    assert get(app, tenant, token=token_for(tenant, iat=now + ahead, nbf=now + ahead)).status_code == 200
    assert get(app, tenant, token=token_for(tenant, iat=now + 3600)).status_code == 401
    assert get(app, tenant, token=token_for(tenant, nbf=now + 3600)).status_code == 401


@pytest.mark.parametrize("canonical, elevate", sorted((s.value, e) for s, e in STATUS.items()))
def test_status_mapping_row(canonical, elevate):
    assert STATUS[Status(canonical)] == elevate


def test_status_filter_and_items_follow_the_mapping_including_acknowledged(app, tenant, pki):
    events = one_of_each("x")
    post_all(app, tenant, pki, *events.values())
    bounced = [i for i in get(app, tenant, status="BOUNCED").json if i["recipientEmail"] == "bounced@example.com"][0]
    acknowledged = app.test_client().post(f"/api/v1/deliveries/{bounced['id']}/acknowledge", headers=tenant.auth)
    assert acknowledged.status_code == 200

    def recipients(status):
        return sorted(i["recipientEmail"].split("@")[0] for i in get(app, tenant, status=status).json)

    assert recipients("SENT") == ["sent"]
    assert recipients("RETRY") == ["retry"]
    assert recipients("DELIVERED") == ["delivered", "opened"]
    assert recipients("ERROR") == ["error"]
    assert recipients("COMPLAINT") == ["complaint"]
    assert recipients("BOUNCED") == []
    assert recipients("ACKNOWLEDGED") == ["bounced"]
    opened = get(app, tenant, status="DELIVERED", sort="recipientEmail:desc").json[0]
    assert (opened["recipientEmail"], opened["status"]) == ("opened@example.com", "DELIVERED")
    assert get(app, tenant, status="LOST").status_code == 400


def test_sort_by_status_orders_by_the_status_shown_and_pages_in_that_order(app, tenant, pki):
    events = one_of_each("x")
    post_all(app, tenant, pki, *events.values())
    bounced = [i for i in get(app, tenant, status="BOUNCED").json if i["recipientEmail"] == "bounced@example.com"][0]
    assert app.test_client().post(f"/api/v1/deliveries/{bounced['id']}/acknowledge",
                                  headers=tenant.auth).status_code == 200

    shown = [item["status"] for item in get(app, tenant, sort="status").json]
    assert shown == sorted(shown) == ["ACKNOWLEDGED", "COMPLAINT", "DELIVERED", "DELIVERED", "ERROR", "RETRY",
                                      "SENT"]
    assert [item["status"] for item in get(app, tenant, sort="status:desc").json] == shown[::-1]
    # Page by page (the pages continue from where each ended), the same order.
    paged = [item["status"] for page in (1, 2, 3, 4)
             for item in get(app, tenant, sort="status", page=page, pageSize=2).json]
    assert paged == shown


def test_items_carry_the_documented_fields_and_ses_tag_attributes(app, tenant, pki):
    send = for_message("event/send.json", "m1", ["r@example.com"])
    send["mail"]["tags"] = {"billRunType": ["NORMAL"], "billRunId": ["7"], "customerId": ["42"],
                            "siteId": ["3"], "contactId": ["9"], "ses:configuration-set": ["cs"]}
    post_all(app, tenant, pki, send, bounce("m1", "r@example.com", "Permanent", "fb1", "2026-11-20T10:00:00.000Z"))

    [item] = get(app, tenant, billRunType="NORMAL", billRunId="7").json
    assert set(item) == {"id", "recipientEmail", "createdDateTime", "updatedDateTime", "status", "message",
                         "bounceType", "billRunType", "billRunId", "customerId", "siteId", "contactId"}
    assert (item["status"], item["bounceType"], item["billRunId"], item["customerId"]) == (
        "BOUNCED", "PERMANENT", 7, 42)
    # The document's form, "failed, 5.3.0, smtp; 550 ...": SES's action, status and diagnosticCode.
    assert item["message"] == "failed, 5.1.1, smtp; 550 5.1.1 no such user"
    assert item["createdDateTime"].endswith("Z")
    assert get(app, tenant, billRunId="8").json == []
    assert get(app, tenant, bounceType="PERMANENT", fields="id,status").json == [
        {"id": item["id"], "status": "BOUNCED"}]
    assert get(app, tenant, fields="colour").status_code == 400  # names nothing an email status has
    # A name the resource does not have is skipped when a known one remains (the seed's "id,name").
    assert get(app, tenant, fields="id,colour").json == [{"id": item["id"]}]


def test_registered_attributes_that_are_not_plain_digits_stay_text(app, tenant):
    """Ids given back as numbers are ASCII digits only: "²" passes str.isdigit() but int() refuses
    it, and so it does 5,000 digits; either, registered once, had made every page showing the
    row a 500."""
    odd = {"m1": "²", "m2": "1" * 5000, "m3": "١٢"}
    for message_id, value in odd.items():
        response = app.test_client().post("/api/v1/messages", headers=tenant.auth, json={
            "message_id": message_id, "recipients": [f"{message_id}@example.com"], "customerId": value,
            "billRunId": "12"})
        assert response.status_code == 201, response.json
    response = get(app, tenant)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    shown = {item["recipientEmail"].split("@")[0]: item for item in response.json}
    assert {name: item["customerId"] for name, item in shown.items()} == odd
    assert {item["billRunId"] for item in shown.values()} == {12}


def test_paging_sorting_and_time_filters(app, tenant, pki):
    post_all(app, tenant, pki, *[for_message("event/send.json", f"m{n}", [f"r{n}@example.com"]) for n in range(7)])
    everything = get(app, tenant, pageSize=100).json
    ids = [i["id"] for i in everything]
    assert ids == sorted(ids) and len(ids) == 7

    pages = [get(app, tenant, page=p, pageSize=3).json for p in (1, 2, 3)]
    assert [i["id"] for page in pages for i in page] == ids
    assert [i["id"] for i in get(app, tenant, sort="id:desc").json] == ids[::-1]
    created = everything[0]["createdDateTime"]
    assert len(get(app, tenant, createdDateTime="gt:2000-01-01T00:00:00Z,lt:2100-01-01T00:00:00Z").json) == 7
    assert get(app, tenant, createdDateTime=f"lt:{created}").json == []
    assert len(get(app, tenant, updatedDateTime=created).json) >= 1
    for bad in ({"createdDateTime": "yesterday"}, {"page": 0}, {"pageSize": 1001}, {"sort": "colour"},
                {"page": 1000, "pageSize": 1000}):
        response = get(app, tenant, **bad)
        assert response.status_code == 400, bad
    # The refusal says what is allowed (it had read "page must be between 1 and any").
    assert get(app, tenant, page=0).json["detail"] == "page must be 1 or more"
    assert get(app, tenant, pageSize=0).json["detail"] == "pageSize must be between 1 and 1000"


def test_an_account_sees_only_its_own_deliveries(app, tenant, pki):
    other = make_tenant(app, "other", ["*"])
    post_all(app, tenant, pki, for_message("event/send.json", "m1", ["r@example.com"]))
    assert len(get(app, tenant).json) == 1
    assert get(app, other).json == []


def test_the_seed_request_example_replayed_with_concrete_values(app, tenant, pki):
    """Seed 000's curl example; its placeholders (yyyy-MM-ddTHH:mm:ssZ, the generic sort and
    fields "id,name") given concrete values of the documented forms."""
    post_all(app, tenant, pki, for_message("event/send.json", "m1", ["r@example.com"]))
    response = get(app, tenant, page=1, pageSize=100, sort="id,recipientEmail:desc", fields="id,recipientEmail",
                   createdDateTime="2026-01-01T00:00:00Z,lt:2100-01-01T00:00:00Z,gt:2000-01-01T00:00:00Z",
                   updatedDateTime="2026-01-01T00:00:00Z,lt:2100-01-01T00:00:00Z,gt:2000-01-01T00:00:00Z",
                   billRunType="NORMAL", billRunId="0", status="SENT", bounceType="PERMANENT")
    assert response.status_code == 200 and response.json == []  # the example's filters exclude each other
    shaped = get(app, tenant, page=1, pageSize=100, sort="id", status="SENT").json
    assert [set(item) for item in shaped] == [{"id", "recipientEmail", "createdDateTime", "updatedDateTime",
                                               "status", "message", "bounceType", "billRunType", "billRunId",
                                               "customerId", "siteId", "contactId"}]


SEED_CURL = ("/v1/email-status?page=1&pageSize=100&sort=id%2Cname+%7C+name%3Adesc&fields=id%2Cname"
             "&createdDateTime={T}+%2C+lt%3A{T}+%2C+gt%3A{T}&updatedDateTime={T}+%2C+lt%3A{T}+%2C+gt%3A{T}"
             "&billRunType=NORMAL&billRunId=0&status=SENT&bounceType=PERMANENT")


def test_the_seed_curl_replayed_as_written_with_only_its_timestamps_filled_in(app, tenant, pki):
    """Seed 000's curl byte for byte, but for its yyyy-MM-ddTHH:mm:ssZ placeholders: the sort
    "id,name | name:desc" and fields "id,name" are the document's generic templates."""
    post_all(app, tenant, pki, for_message("event/send.json", "m1", ["r@example.com"]))
    headers = {"Authorization": f"Bearer {token_for(tenant)}"}
    stamp = "2019-08-24T14%3A15%3A22Z"
    response = app.test_client().get(SEED_CURL.format(T=stamp), headers=headers)
    assert response.status_code == 200, response.json
    assert response.json == []  # created at, before and after one moment: nothing is all three

    # The same sort and fields over rows that match: ids ascending, the one known field only.
    post_all(app, tenant, pki, for_message("event/send.json", "m2", ["s@example.com"]))
    template = app.test_client().get("/v1/email-status?sort=id%2Cname+%7C+name%3Adesc&fields=id%2Cname"
                                     "&createdDateTime=gt%3A2019-08-24T14%3A15%3A22Z+%2C+lt%3A2100-01-01T00%3A00%3A00Z",
                                     headers=headers)
    assert template.status_code == 200, template.json
    ids = [item["id"] for item in template.json]
    assert len(ids) == 2 and ids == sorted(ids) and all(set(item) == {"id"} for item in template.json)
    descending = get(app, tenant, sort="name | recipientEmail:desc", fields="recipientEmail,name").json
    assert descending == [{"recipientEmail": "s@example.com"}, {"recipientEmail": "r@example.com"}]
    assert get(app, tenant, sort="id:sideways").status_code == 400


def test_a_zone_offset_sent_with_an_unencoded_plus(app, tenant, pki):
    post_all(app, tenant, pki, for_message("event/send.json", "m1", ["r@example.com"]))
    client, headers = app.test_client(), {"Authorization": f"Bearer {token_for(tenant)}"}
    # "+01:00" unencoded arrives as " 01:00"; read as +01:00, not refused and not misread.
    assert len(client.get("/v1/email-status?createdDateTime=gt:2000-01-01T00:00:00+01:00", headers=headers).json) == 1
    assert client.get("/v1/email-status?createdDateTime=gt:2100-01-01T00:00:00+01:00", headers=headers).json == []
    assert client.get("/v1/email-status?createdDateTime=gt:2100-01-01T00:00:00+25:00",
                      headers=headers).status_code == 400
