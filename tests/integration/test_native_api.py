"""GET /api/v1/deliveries and /deliveries/<id>/events: filters, keyset pages, keys, tenants."""
from __future__ import annotations

import base64
import json

import pytest

from tests.support.harness import FIXTURES, drain, make_tenant
from tests.support.sns_signing import notification


def ses(name: str) -> dict:
    return json.loads((FIXTURES / "ses" / name).read_text())


def send_event(message_id: str, destination: list[str]) -> dict:
    event = ses("event/send.json")
    event["mail"]["messageId"] = message_id
    event["mail"]["destination"] = destination
    return event


def post_all(app, tenant, pki, *messages):
    client = app.test_client()
    for message in messages:
        assert client.post(tenant.hook, data=json.dumps(pki.sign(notification(message)))).status_code == 200
    drain(app)


def get(app, tenant, path, **params):
    return app.test_client().get(path, query_string=params, headers=tenant.auth)


def test_status_of_message_x_for_recipient_y(app, tenant, pki):
    bounce = ses("notification/bounce-permanent.json")
    post_all(app, tenant, pki, bounce)
    recipient = bounce["bounce"]["bouncedRecipients"][0]["emailAddress"]

    response = get(app, tenant, "/api/v1/deliveries", message_id=bounce["mail"]["messageId"],
                   recipient=recipient.upper())

    assert response.status_code == 200
    [item] = response.json["data"]
    assert item["status"] == "BOUNCED" and item["bounce_type"] == "PERMANENT"
    assert item["recipient"] == recipient.lower()
    for field in ("id", "message_id", "bounce_subtype", "diagnostic", "created_at", "updated_at", "events_count"):
        assert field in item
    assert response.json["next_cursor"] is None


def test_status_filter_is_case_insensitive_and_exact(app, tenant, pki):
    post_all(app, tenant, pki, send_event("m1", ["a@example.com", "b@example.com"]),
             ses("notification/bounce-permanent.json"))

    sent = get(app, tenant, "/api/v1/deliveries", status="sent").json["data"]
    bounced = get(app, tenant, "/api/v1/deliveries", status="BOUNCED").json["data"]

    assert {d["recipient"] for d in sent} == {"a@example.com", "b@example.com"}
    assert [d["status"] for d in bounced] == ["BOUNCED"]


def test_keyset_pages_cover_every_delivery_exactly_once(app, tenant, pki):
    post_all(app, tenant, pki, *[send_event(f"m{n}", [f"r{n}@example.com"]) for n in range(23)])

    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 5, **({"cursor": cursor} if cursor else {})}
        body = get(app, tenant, "/api/v1/deliveries", **params).json
        seen += [d["id"] for d in body["data"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert pages == 5
    assert len(seen) == len(set(seen)) == 23


def test_updated_window_filters(app, tenant, pki):
    post_all(app, tenant, pki, send_event("m1", ["a@example.com"]))
    [item] = get(app, tenant, "/api/v1/deliveries").json["data"]

    after = get(app, tenant, "/api/v1/deliveries", updated_after=item["updated_at"]).json["data"]
    before = get(app, tenant, "/api/v1/deliveries", updated_before="2100-01-01T00:00:00Z").json["data"]
    naive = get(app, tenant, "/api/v1/deliveries", updated_before="2000-01-01T00:00:00").json["data"]

    assert (after, [d["id"] for d in before], naive) == ([], [item["id"]], [])


def test_a_shown_time_pasted_into_a_url_with_its_plus_unencoded(app, tenant, pki):
    """Items show times as 2026-12-06T01:54:31.526951+00:00; pasted into a curl URL, the "+" arrives
    as a space. Read as "+", as every compatible API reads its time filters (tracker.http.moments),
    instead of a 400. The raw query string is given, as a client types it."""
    post_all(app, tenant, pki, send_event("m1", ["a@example.com"]))
    [item] = get(app, tenant, "/api/v1/deliveries").json["data"]
    shown = item["updated_at"]
    assert "+00:00" in shown

    def listed(query: str):
        response = app.test_client().get(f"/api/v1/deliveries?{query}", headers=tenant.auth)
        assert response.status_code == 200, response.json
        return [d["id"] for d in response.json["data"]]

    assert listed(f"updated_after={shown}") == []
    assert listed(f"updated_before={shown}") == []
    assert listed(f"updated_before={shown.replace('+00:00', '+01:00')}") == []  # an hour earlier
    assert listed(f"updated_after={shown.replace('+00:00', '+01:00')}") == [item["id"]]
    assert listed(f"updated_before={shown.replace('+00:00', '-01:00')}") == [item["id"]]


@pytest.mark.parametrize(
    "params, field",
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"status": "LOST"}, "status"),
        ({"updated_after": "yesterday"}, "updated_after"),
        ({"cursor": "garbage!"}, "cursor"),
        # A cursor in the right shape whose id is JSON true (Python's bool is an int): the database
        # refused bigint > boolean and the client was told 503, retry.
        ({"cursor": base64.urlsafe_b64encode(b'["2026-12-06T01:54:31+00:00", true]').decode()}, "cursor"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(app, tenant, params, field):
    response = get(app, tenant, "/api/v1/deliveries", **params)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_request"
    assert field in response.json["detail"]


def test_history_is_oldest_first_with_each_event_once(app, tenant, pki):
    bounce = ses("event/bounce.json")
    recipient = bounce["bounce"]["bouncedRecipients"][0]["emailAddress"]
    send = send_event(bounce["mail"]["messageId"], [recipient])
    post_all(app, tenant, pki, bounce, send, bounce)  # bounce first, and twice
    [item] = get(app, tenant, "/api/v1/deliveries", status="BOUNCED").json["data"]

    events = get(app, tenant, f"/api/v1/deliveries/{item['id']}/events").json["data"]

    assert [e["type"] for e in events] == ["sent", "bounced"]
    assert events[0]["occurred_at"] <= events[1]["occurred_at"]
    assert item["events_count"] == 2


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer nope", "Basic dXNlcjpwYXNz",
                                    "Bearer trk_0123456789abcdef_wrongsecret"])
def test_missing_or_wrong_key_is_401_json(app, tenant, header):
    headers = {"Authorization": header} if header else {}
    response = app.test_client().get("/api/v1/deliveries", headers=headers)
    assert response.status_code == 401
    assert set(response.json) == {"error", "detail"}


def test_an_account_never_sees_another_accounts_deliveries(app, tenant, pki):
    other = make_tenant(app, "other", ["*"])
    post_all(app, tenant, pki, ses("notification/bounce-permanent.json"))
    [mine] = get(app, tenant, "/api/v1/deliveries").json["data"]

    assert get(app, other, "/api/v1/deliveries").json["data"] == []
    assert get(app, other, "/api/v1/deliveries", message_id=mine["message_id"]).json["data"] == []
    response = get(app, other, f"/api/v1/deliveries/{mine['id']}/events")
    assert response.status_code == 404
    assert "data" not in response.json


def test_database_unavailable_answers_a_reader_503_saying_so():
    from tests.support.harness import RecordingWaker
    from tracker import create_app
    from tracker.db import keys
    from tracker.config import Config

    down = create_app(Config(database_url="postgresql+psycopg2://postgres@127.0.0.1:1/none"), waker=RecordingWaker())
    response = down.test_client().get("/api/v1/deliveries",
                                      headers={"Authorization": f"Bearer {keys.generate().plaintext}"})
    assert (response.status_code, response.json["error"]) == (503, "database_unavailable")
    assert "database is unavailable" in response.json["detail"] and response.headers["Retry-After"]
