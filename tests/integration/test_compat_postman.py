"""Postman's GET /v1/transactional/email[/<id>] (seed 004) on real PostgreSQL: envelope, mapping, filters, tenants."""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone, UTC

import jwt
import pytest
from sqlalchemy import text
from werkzeug.datastructures import MultiDict

from tests.support.harness import drain, make_tenant
from tests.support.ses_events import bounce, for_message
from tests.support.sns_signing import notification
from tracker.http.compat.postman.views import MAX_OFFSET, STATUS, list_statement, parse_query, postman_status
from tracker.http.page_marks import LocalMarks, OffsetPager
from tracker.domain import Status

PATH = "/v1/transactional/email"
# The seed's item fields, plus classification, tag, cc and bcc (formats doc 5.2).
FIELDS = {"id", "from", "recipient", "params", "attachments_metadata", "status", "error_code", "error_sub_type",
          "created_at", "updated_at", "accepted_at", "sent_at", "delivered_at", "opened_at",
          "classification", "tag", "cc", "bcc"}
VALIDATION = {"statusCode", "error", "message", "validation"}


def token_for(tenant) -> str:
    return jwt.encode({"iat": int(time.time())}, tenant.key, algorithm="HS256",
                      headers={"kid": tenant.key.split("_")[1]})


def get(app, tenant, path=PATH, query_string=None, token=None):
    """GET with ``query_string`` a dict, a list of pairs, or a raw (already encoded) string."""
    return app.test_client().get(path, query_string=query_string,
                                 headers={"Authorization": f"Bearer {token or tenant.key}"})


def post_all(app, tenant, pki, *messages):
    for message in messages:
        assert app.test_client().post(tenant.hook, data=json.dumps(pki.sign(notification(message)))).status_code == 200
    drain(app)


def register(app, tenant, **spec):
    response = app.test_client().post("/api/v1/messages", json=spec, headers=tenant.auth)
    assert response.status_code == 201, response.json
    return response.json


def sends(count: int) -> list[dict]:
    return [for_message("event/send.json", f"m{n}", [f"r{n}@example.com"]) for n in range(count)]


def by_recipient(response) -> dict:
    return {item["recipient"].split("@")[0]: item for item in response.json["data"]}


def one_of_each() -> dict:
    """SES events putting one delivery in each canonical status reached by events (not PENDING, ACKNOWLEDGED)."""
    def m(name):
        return f"{name}@example.com"
    return {
        "sent": for_message("event/send.json", "m-sent", [m("sent")]),
        "retry": for_message("event/delivery-delay.json", "m-retry", [m("retry")],
                             deliveryDelay={"delayedRecipients": [{"emailAddress": m("retry")}]}),
        "delivered": for_message("event/delivery.json", "m-delivered", [m("delivered")],
                                 delivery={"recipients": [m("delivered")]}),
        "opened": for_message("event/open.json", "m-opened", [m("opened")]),
        "error": for_message("event/reject.json", "m-error", [m("error")]),
        "hard": bounce("m-hard", m("hard"), "Permanent", "fb1", "2026-11-20T10:00:00.000Z"),
        "soft": bounce("m-soft", m("soft"), "Transient", "fb2", "2026-11-20T10:00:00.000Z"),
        "complaint": for_message("event/complaint.json", "m-complaint", [m("complaint")],
                                 complaint={"complainedRecipients": [{"emailAddress": m("complaint")}],
                                            "complaintSubType": None}),
    }


# -- the mapping table, row by row ------------------------------------------------------------

@pytest.mark.parametrize("canonical, postman", [
    ("PENDING", "UNSENT"), ("SENT", "SENT"), ("RETRY", "SENT"), ("DELIVERED", "DELIVERED"), ("OPENED", "OPENED"),
    ("ERROR", "UNSENT"), ("BOUNCED", "BOUNCED"), ("COMPLAINT", "COMPLAINT"),
])
def test_status_mapping_row(canonical, postman):
    assert STATUS[Status(canonical)] == postman == postman_status(Status(canonical))


@pytest.mark.parametrize("acknowledged, postman", [
    ("ERROR", "UNSENT"), ("BOUNCED", "BOUNCED"), ("COMPLAINT", "COMPLAINT"), (None, "UNSENT"),
])
def test_acknowledged_maps_as_the_failure_it_acknowledged(acknowledged, postman):
    from tracker.domain import DeliveryState, Outcome

    assert Status.ACKNOWLEDGED not in STATUS
    failure = Outcome(Status(acknowledged), precedence="05|x|k") if acknowledged else None
    state = DeliveryState(Status.ACKNOWLEDGED, precedence="08|y|a", failure=failure)
    assert postman_status(state.shown.status) == postman


# -- the seed's examples, replayed -------------------------------------------------------------
# The seed writes its examples as /transactional/email; Postman serves them under /v1 (the
# seed's heading), so they are replayed as /v1/transactional/email, and below also as written.

def test_seed_list_returns_the_first_10_by_created_at_descending(app, tenant, pki):
    post_all(app, tenant, pki, *sends(12))
    response = get(app, tenant)  # GET /v1/transactional/email, Authorization: Bearer <token>
    assert response.status_code == 200
    assert set(response.json) == {"has_more", "data"} and response.json["has_more"] is True
    ids = [item["id"] for item in response.json["data"]]
    assert len(ids) == 10 and ids == sorted(ids, reverse=True)  # created together: the id breaks the tie
    assert all(set(item) == FIELDS for item in response.json["data"])


def test_seed_offset_example_returns_the_next_emails(app, tenant, pki):
    post_all(app, tenant, pki, *sends(35))
    everything = get(app, tenant, query_string="limit=1000").json
    assert everything["has_more"] is False and len(everything["data"]) == 35
    ids = [item["id"] for item in everything["data"]]
    page = get(app, tenant, query_string="limit=20&offset=10").json  # the seed's offset example
    assert [item["id"] for item in page["data"]] == ids[10:30] and page["has_more"] is True
    last = get(app, tenant, query_string="limit=20&offset=30").json
    assert [item["id"] for item in last["data"]] == ids[30:] and last["has_more"] is False


def test_seed_status_example_and_the_response_example_fields(app, tenant, pki):
    register(app, tenant, message_id="m-delivered", recipients=["hello@example.com"],
             **{"from": "Postman <info@mail.postman.gov.sg>"}, subject="Hello World",
             params={"body": "Hello World", "from": "Postman <info@mail.postman.gov.sg>", "subject": "Hello World",
                     "reply_to": "hello@example.com"},
             attachments_metadata=[{"fileName": "text", "fileSize": 0, "hash": "text"}])
    post_all(app, tenant, pki, for_message("event/send.json", "m-delivered", ["hello@example.com"]),
             for_message("event/delivery.json", "m-delivered", ["hello@example.com"],
                         delivery={"recipients": ["hello@example.com"]}),
             for_message("event/send.json", "m-other", ["other@example.com"]))

    response = get(app, tenant, query_string="status=DELIVERED")
    assert response.status_code == 200 and response.json["has_more"] is False
    [item] = response.json["data"]
    assert set(item) == FIELDS
    assert (item["recipient"], item["status"], item["from"]) == ("hello@example.com", "DELIVERED",
                                                                 "Postman <info@mail.postman.gov.sg>")
    assert item["params"]["reply_to"] == "hello@example.com"
    assert item["attachments_metadata"] == [{"fileName": "text", "fileSize": 0, "hash": "text"}]
    assert item["error_code"] is None and item["error_sub_type"] is None and item["opened_at"] is None
    for name in ("created_at", "updated_at", "accepted_at", "sent_at", "delivered_at"):
        assert datetime.strptime(item[name], "%Y-%m-%dT%H:%M:%S.%fZ") and len(item[name]) == 24, name
    assert item["accepted_at"] == item["sent_at"] == "2016-10-14T05:02:16.645Z"  # the SES Send event's time
    assert isinstance(item["id"], int)


def test_seed_created_at_examples(app, tenant, pki):
    post_all(app, tenant, pki, *sends(3))
    after = get(app, tenant, query_string="created_at[gt]=2023-05-10T03:03:54.163Z")
    assert after.status_code == 200 and len(after.json["data"]) == 3
    # Dates mean midnight UTC; the tracker's rows were all created now, so this window is empty.
    between = get(app, tenant, query_string="created_at[gt]=2023-05-03&created_at[lt]=2023-05-10")
    assert between.status_code == 200 and between.json == {"has_more": False, "data": []}
    # The same with the brackets percent-encoded, as most HTTP clients send them.
    assert get(app, tenant, query_string={"created_at[gt]": "2023-05-03"}).json["data"] == after.json["data"]


@pytest.mark.parametrize("query", [
    "sort_by=+created_at&created_at[gte]=2022-11-01&status=delivered&limit=48",  # as the seed writes it: + is a space
    "sort_by=%2Bcreated_at&created_at%5Bgte%5D=2022-11-01&status=delivered&limit=48",  # + encoded
])
def test_seed_sort_by_example(app, tenant, pki, query):
    post_all(app, tenant, pki, *[for_message("event/delivery.json", f"m{n}", [f"r{n}@example.com"],
                                             delivery={"recipients": [f"r{n}@example.com"]}) for n in range(3)],
             for_message("event/send.json", "m-sent", ["sent@example.com"]))
    response = get(app, tenant, query_string=query)
    assert response.status_code == 200, response.json
    ids = [item["id"] for item in response.json["data"]]
    assert len(ids) == 3 and ids == sorted(ids)  # ascending
    assert {item["status"] for item in response.json["data"]} == {"DELIVERED"}


@pytest.mark.parametrize("example", [
    "/transactional/email?limit=20&offset=10",
    "/transactional/email?status=DELIVERED",
    "/transactional/email?created_at[gt]=2023-05-10T03:03:54.163Z",
    "/transactional/email?created_at[gt]=2023-05-03&created_at[lt]=2023-05-10",
    "/transactional/email?sort_by=+created_at&created_at[gte]=2022-11-01&status=delivered&limit=48",
    "/transactional/email?exclude_params=true",
])
def test_seed_examples_replayed_on_the_path_exactly_as_written(app, tenant, pki, example):
    post_all(app, tenant, pki, *[for_message("event/delivery.json", f"m{n}", [f"r{n}@example.com"],
                                             delivery={"recipients": [f"r{n}@example.com"]}) for n in range(12)])
    as_written = get(app, tenant, path=example)
    assert as_written.status_code == 200, as_written.get_data(as_text=True)
    assert as_written.json == get(app, tenant, path="/v1" + example).json
    assert set(as_written.json) == {"has_more", "data"}
    [one] = get(app, tenant, query_string="limit=1").json["data"]
    assert get(app, tenant, path=f"/transactional/email/{one['id']}").json == one
    assert get(app, tenant, path="/transactional/email", token="wrong").status_code == 401


def test_seed_exclude_params_example(app, tenant):
    register(app, tenant, message_id="m1", recipients=["a@example.com"], params={"body": "x" * 1000})
    [item] = get(app, tenant, query_string="exclude_params=true").json["data"]
    assert set(item) == FIELDS - {"params"}
    [item] = get(app, tenant, query_string="exclude_params=false").json["data"]
    assert item["params"] == {"body": "x" * 1000}


# -- statuses, errors and items ----------------------------------------------------------------

def test_each_status_renders_postmans_word_and_error_codes(app, tenant, pki):
    register(app, tenant, message_id="m-pending", recipients=["pending@example.com"])
    post_all(app, tenant, pki, *one_of_each().values())
    items = by_recipient(get(app, tenant, query_string="limit=100"))

    def shown(name):
        return items[name]["status"], items[name]["error_code"], items[name]["error_sub_type"]

    assert shown("pending") == ("UNSENT", None, None)
    assert shown("sent") == ("SENT", None, None)
    assert shown("retry") == ("SENT", None, None)
    assert shown("delivered") == ("DELIVERED", None, None)
    assert shown("opened") == ("OPENED", None, None)
    assert shown("error") == ("UNSENT", "Bad content", "Reject")  # SES Reject's reason
    assert shown("hard") == ("BOUNCED", "Hard bounce", "General")
    assert shown("soft") == ("BOUNCED", "Soft bounce", "General")
    assert shown("complaint") == ("COMPLAINT", "abuse", None)  # complaintFeedbackType from the history
    assert items["opened"]["opened_at"] is not None and items["delivered"]["delivered_at"] is not None
    assert items["pending"]["sent_at"] is None and items["pending"]["accepted_at"] is None
    # An UNSENT email was not sent, though SES's Reject carries a mail.timestamp: in Postman's
    # lifecycle UNSENT comes before ACCEPTED and SENT (formats doc 5.1), so neither time is set.
    assert items["error"]["sent_at"] is None and items["error"]["accepted_at"] is None
    assert items["hard"]["sent_at"] is not None and items["hard"]["accepted_at"] is not None


def test_acknowledged_deliveries_read_as_the_failure_they_acknowledged(app, tenant, pki):
    post_all(app, tenant, pki, *one_of_each().values())
    before = by_recipient(get(app, tenant, query_string="limit=100"))
    for name in ("error", "hard", "complaint"):
        response = app.test_client().post(f"/api/v1/deliveries/{before[name]['id']}/acknowledge", headers=tenant.auth)
        assert response.status_code == 200 and response.json["status"] == "ACKNOWLEDGED"
    after = by_recipient(get(app, tenant, query_string="limit=100"))
    for name in ("error", "hard", "complaint"):
        assert (after[name]["status"], after[name]["error_code"], after[name]["error_sub_type"]) == \
            (before[name]["status"], before[name]["error_code"], before[name]["error_sub_type"]), name
    single = get(app, tenant, f"{PATH}/{before['hard']['id']}").json
    assert (single["status"], single["error_code"]) == ("BOUNCED", "Hard bounce")


def test_status_filter_follows_the_mapping_including_acknowledged(app, tenant, pki):
    register(app, tenant, message_id="m-pending", recipients=["pending@example.com"])
    post_all(app, tenant, pki, *one_of_each().values())
    ids = {name: item["id"] for name, item in by_recipient(get(app, tenant, query_string="limit=100")).items()}
    for name in ("error", "soft", "complaint"):
        assert app.test_client().post(f"/api/v1/deliveries/{ids[name]}/acknowledge",
                                      headers=tenant.auth).status_code == 200

    def names(query):
        response = get(app, tenant, query_string=query)
        assert response.status_code == 200, response.json
        return sorted(by_recipient(response))

    assert names("status=UNSENT") == ["error", "pending"]
    assert names("status=ACCEPTED") == []  # nothing maps to ACCEPTED (see the module docstring)
    assert names("status=SENT") == ["retry", "sent"]
    assert names("status=DELIVERED") == ["delivered"]
    assert names("status=OPENED") == ["opened"]
    assert names("status=BOUNCED") == ["hard", "soft"]
    assert names("status=COMPLAINT") == ["complaint"]
    assert names("status=complaint") == ["complaint"]  # any case, as the seed's own example
    expected = ["delivered", "retry", "sent"]
    assert names("status=SENT,DELIVERED") == names("status=SENT&status=delivered") == expected
    assert names("status[]=SENT&status[]=DELIVERED") == names("status[0]=SENT&status[1]=DELIVERED") == expected
    assert names("status=UNSENT&status=BOUNCED&sort_by=updated_at") == ["error", "hard", "pending", "soft"]


def test_registered_message_fields_and_tag(app, tenant, pki):
    register(app, tenant, message_id="m1", recipients=["a@example.com"], **{"from": "Team <team@example.com>"},
             subject="Hi", params={"body": "Hello"}, cc=["cc@example.com"], bcc=["bcc@example.com"],
             tags={"tag": "otp", "classification": "FOR_INFO"})
    send = for_message("event/send.json", "m2", ["b@example.com"])
    send["mail"]["tags"] = {"tag": ["receipts"]}
    post_all(app, tenant, pki, for_message("event/open.json", "m1", ["a@example.com"]), send)
    items = by_recipient(get(app, tenant))
    a, b = items["a"], items["b"]
    assert (a["status"], a["params"], a["cc"], a["bcc"], a["tag"], a["classification"]) == \
        ("OPENED", {"body": "Hello"}, ["cc@example.com"], ["bcc@example.com"], "otp", "FOR_INFO")
    # Only events told of this one: what they said, and null for what nobody said.
    assert (b["from"], b["params"], b["tag"], b["cc"], b["attachments_metadata"]) == \
        ("sender@example.com", {"from": "sender@example.com", "subject": "Message sent from Amazon SES"},
         "receipts", None, None)
    assert sorted(by_recipient(get(app, tenant, query_string="tag=otp"))) == ["a"]
    assert sorted(by_recipient(get(app, tenant, query_string="tag=receipts"))) == ["b"]
    assert get(app, tenant, query_string="tag=nothing").json["data"] == []


def test_get_by_id(app, tenant, pki):
    post_all(app, tenant, pki, *sends(2))
    [_, second] = get(app, tenant).json["data"]
    response = get(app, tenant, f"{PATH}/{second['id']}")
    assert response.status_code == 200 and response.json == second
    assert get(app, tenant, f"{PATH}/{second['id']}", token=token_for(tenant)).json == second
    missing = get(app, tenant, f"{PATH}/999999")
    assert missing.status_code == 404 and missing.json == {"message": "Email message with ID 999999 not found."}
    assert get(app, tenant, f"{PATH}/99999999999999999999999").status_code == 404
    assert get(app, tenant, f"{PATH}/{'9' * 5000}").status_code == 404  # past what int() reads from text
    # Leading zeros count towards that limit too; the number is still the email's id.
    assert get(app, tenant, f"{PATH}/{'0' * 4300}{second['id']}").json == second
    bad = get(app, tenant, f"{PATH}/abc")
    assert bad.status_code == 400 and set(bad.json) == VALIDATION


# -- sorting, paging, time filters ------------------------------------------------------------

def test_sort_by_both_fields_and_both_directions(app, tenant, pki):
    post_all(app, tenant, pki, *sends(3))
    ids = [item["id"] for item in get(app, tenant).json["data"]]
    # A later event updates the oldest delivery: it leads by updated_at, not by created_at.
    post_all(app, tenant, pki, for_message("event/delivery.json", "m0", ["r0@example.com"],
                                           delivery={"recipients": ["r0@example.com"]}))
    oldest = min(ids)

    def order(sort_by):
        return [item["id"] for item in get(app, tenant, query_string={"sort_by": sort_by}).json["data"]]

    assert order("created_at") == order("-created_at") == ids
    assert order("+created_at") == order(" created_at") == ids[::-1]
    assert order("-updated_at")[0] == order("updated_at")[0] == oldest
    assert order("+updated_at")[-1] == oldest
    assert order("-updated_at,+created_at")[0] == oldest


def test_created_at_operators_and_zones(app, tenant, pki):
    post_all(app, tenant, pki, *sends(2))
    created = get(app, tenant).json["data"][0]["created_at"]
    moment = datetime.strptime(created, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)

    def count(**filters):
        query = {f"created_at[{op}]": value for op, value in filters.items()}
        response = get(app, tenant, query_string=query)
        assert response.status_code == 200, response.json
        return len(response.json["data"])

    hour_ago = moment - timedelta(hours=1)
    assert count(gte=hour_ago.strftime("%Y-%m-%dT%H:%M:%S")) == 2  # no zone: UTC
    assert count(gte=hour_ago.astimezone(timezone(timedelta(hours=8))).isoformat()) == 2  # +08:00
    assert count(lt=hour_ago.isoformat()) == 0
    assert count(lte=(moment + timedelta(hours=1)).isoformat(), gt=hour_ago.isoformat()) == 2
    assert count(gt=(moment + timedelta(hours=1)).isoformat()) == 0
    # An unencoded "+" in the offset arrives as a space: still read as +08:00.
    raw = (moment + timedelta(hours=1)).astimezone(timezone(timedelta(hours=8))).strftime("%Y-%m-%dT%H:%M:%S+08:00")
    assert len(get(app, tenant, query_string=f"created_at[lt]={raw}").json["data"]) == 2


@pytest.mark.parametrize("query, key", [
    ("limit=0", "limit"), ("limit=1001", "limit"), ("limit=ten", "limit"), ("limit=1&limit=2", "limit"),
    ("offset=-1", "offset"), (f"offset={MAX_OFFSET + 1}", "offset"),
    ("status=LOST", "status"), ("status=SENT,", "status"),
    ("created_at[gt]=yesterday", "created_at.gt"), ("created_at[gt]=2023-13-01", "created_at.gt"),
    ("created_at[eq]=2023-05-03", "created_at[eq]"), ("created_at=2023-05-03", "created_at"),
    ("sort_by=colour", "sort_by"), ("sort_by=created_at,-created_at", "sort_by"), ("sort_by=*created_at", "sort_by"),
    ("exclude_params=maybe", "exclude_params"), ("sortBy=created_at", "sortBy"),
    # Past the digits Python's int() reads from text (4300): still Postman's 400, not a 500.
    ("limit=" + "1" * 5000, "limit"), ("offset=" + "1" * 5000, "offset"),
])
def test_bad_parameters_get_postmans_400(app, tenant, query, key):
    response = get(app, tenant, query_string=query)
    assert response.status_code == 400, query
    assert set(response.json) == VALIDATION and response.json["statusCode"] == 400
    assert response.json["validation"] == {"source": "query", "keys": [key]}
    assert response.json["message"]


def test_limits_at_their_bounds_and_long_spans_are_fine(app, tenant):
    for query in ("limit=1", "limit=1000", f"offset={MAX_OFFSET}",
                  "created_at[gte]=1970-01-01&created_at[lte]=2999-12-31",  # Postman has no span limit
                  "limit=" + "0" * 4300 + "5"):  # leading zeros: still 5, though int() reads no text that long
        assert get(app, tenant, query_string=query).status_code == 200, query


def test_list_queries_are_served_by_indexes(app, tenant, pki):
    """With sequential scans priced out, no plan reads deliveries or their history in full."""
    post_all(app, tenant, pki, *one_of_each().values())
    db = app.extensions["tracker"].db
    for query in ({}, {"sort_by": "+updated_at"}, {"status": "BOUNCED"}, {"status": "UNSENT,SENT"},
                  {"created_at[gte]": "2023-01-01", "limit": "1000", "offset": str(MAX_OFFSET)}):
        parsed = parse_query(MultiDict(query))
        pager = OffsetPager(LocalMarks(), tenant.account_id, "postman", {}, parsed["order"], parsed["offset"])
        statement = list_statement(tenant.account_id, parsed, pager)
        compiled = statement.compile(db.engine, compile_kwargs={"literal_binds": True})
        with db.engine.connect() as connection:
            connection.execute(text("SET enable_seqscan = off"))
            plan = "\n".join(row[0] for row in connection.execute(text(f"EXPLAIN {compiled}")))
        assert "Seq Scan on deliveries" not in plan and "Seq Scan on delivery_events" not in plan, plan


# -- auth, tenants, rate limit ----------------------------------------------------------------

def test_bearer_api_key_or_jwt_else_401(app, tenant):
    assert get(app, tenant).status_code == 200
    assert get(app, tenant, token=token_for(tenant)).status_code == 200
    for headers in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Bearer trk_0000_0000"},
                    {"Authorization": f"Basic {tenant.key}"}, {"Authorization": "Bearer "}):
        for path in (PATH, f"{PATH}/1"):
            response = app.test_client().get(path, headers=headers)
            assert response.status_code == 401 and response.json == {"message": "Unauthorized"}, headers


def test_an_account_sees_only_its_own_emails(app, tenant, pki):
    other = make_tenant(app, "other", ["*"])
    post_all(app, tenant, pki, *sends(2))
    mine = get(app, tenant).json["data"]
    assert len(mine) == 2
    assert get(app, other).json == {"has_more": False, "data": []}
    assert get(app, other, query_string="status=SENT").json["data"] == []
    for item in mine:
        response = get(app, other, f"{PATH}/{item['id']}")
        assert response.status_code == 404 and response.json == {
            "message": f"Email message with ID {item['id']} not found."}


def test_rate_limit_answers_postmans_429(make_app):
    app = make_app(rate_limits="postman=2")
    tenant, other = make_tenant(app, "acme", ["*"]), make_tenant(app, "other", ["*"])
    assert [get(app, tenant).status_code for _ in range(2)] == [200, 200]
    limited = get(app, tenant, f"{PATH}/1")
    assert limited.status_code == 429
    assert limited.json == {"status": 429, "message": "Too many requests. Please try again later."}
    assert int(limited.headers["Retry-After"]) >= 1
    assert get(app, other).status_code == 200  # per account
    assert app.test_client().get("/api/v1/deliveries", headers=tenant.auth).status_code == 200  # per style


def test_a_database_outage_answers_a_postman_shaped_503(app, tenant, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from tracker.http.compat.postman import views as compat_postman

    def down(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(compat_postman.credentials, "caller_from_authorization", down)
    for path in (PATH, f"{PATH}/1"):
        response = get(app, tenant, path=path)
        assert response.status_code == 503 and int(response.headers["Retry-After"]) > 0
        assert set(response.json) == {"message"} and response.json["message"]
