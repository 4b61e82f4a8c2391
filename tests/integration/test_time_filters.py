"""Time filters agree with the times each API shows (issue 14, finding 2).

Times are stored to the microsecond; the native API shows them whole, Elevate to the second,
Infobip and Postman to the millisecond, SendCloud to the second in UTC+8 (and filters whole
days). Whatever a client saw, filtering "after it" (or before, or from, or until) must give
exactly the rows whose shown time is after it: a client paging by "after the last time I
saw" then sees each row once. Deliveries are made through registration, then given chosen
times that crowd into a few seconds straddling a UTC+8 midnight, so that many rows share a
shown second or millisecond.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone, UTC

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from tracker.db.models import Delivery

UTC8 = timezone(timedelta(hours=8))
_TODAY_UTC8 = datetime.now(UTC8).replace(hour=0, minute=0, second=0, microsecond=0)
BASE = _TODAY_UTC8.astimezone(UTC) - timedelta(milliseconds=1500)  # 1.5 s before a UTC+8 midnight

# Offsets from BASE: a few seconds, a few milliseconds within each, a few microseconds within those.
OFFSETS = st.builds(lambda s, ms, us: timedelta(seconds=s, milliseconds=ms, microseconds=us),
                    st.integers(0, 3), st.sampled_from([0, 1, 499, 500, 999]), st.sampled_from([0, 1, 500, 999]))


def parse(shown: str) -> datetime:
    return datetime.fromisoformat(shown.replace("Z", "+00:00")).astimezone(UTC)


def parse_utc8(shown: str) -> datetime:
    return datetime.strptime(shown, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC8).astimezone(UTC)


def seed(app, tenant, offsets: list[timedelta]) -> None:
    client = app.test_client()
    with app.extensions["tracker"].db.engine.begin() as connection:
        connection.execute(Delivery.__table__.delete().where(Delivery.account_id == tenant.account_id))
    for n, _offset in enumerate(offsets):
        assert client.post("/api/v1/messages", headers=tenant.auth, json={
            "message_id": f"m-{n}", "recipients": [f"r{n}@example.com"]}).status_code == 201
    with app.extensions["tracker"].db.engine.begin() as connection:
        for n, offset in enumerate(offsets):
            moment = BASE + offset
            connection.execute(update(Delivery).where(Delivery.account_id == tenant.account_id,
                                                      Delivery.message_id == f"m-{n}")
                               .values(created_at=moment, updated_at=moment, submitted_at=moment))


# Each API: list everything -> {row: shown time}, and filter -> rows, by operator.
def native(client, tenant, **params):
    rows = client.get("/api/v1/deliveries", query_string={"limit": 1000, **params}, headers=tenant.auth).json
    return {item["message_id"]: parse(item["updated_at"]) for item in rows["data"]}


def elevate(client, tenant, **params):
    rows = client.get("/v1/email-status", query_string={"pageSize": 1000, **params}, headers=tenant.auth).json
    return {item["id"]: parse(item["updatedDateTime"]) for item in rows}


def postman(client, tenant, **params):
    rows = client.get("/v1/transactional/email", query_string={"limit": 1000, **params}, headers=tenant.auth).json
    return {item["id"]: parse(item["created_at"]) for item in rows["data"]}


def infobip(client, tenant, path="/email/1/logs", **params):
    rows = client.get(path, query_string={"limit": 1000, **params},
                      headers={"Authorization": f"App {tenant.key}"}).json
    return {item["messageId"]: parse(item["sentAt"]) for item in rows["results"]}


def infobip_v4(client, tenant, **params):
    return infobip(client, tenant, "/email/4/logs", **params)


def sendcloud(client, tenant, **params):
    query = {"apiUser": "u", "apiKey": tenant.key, "limit": 100, **params}
    if "startDate" not in query:
        query["days"] = 30
    rows = client.get("/apiv2/data/emailStatus", query_string=query).json
    assert rows["result"] is True, rows
    return {item["emailId"]: parse_utc8(item["requestTime"]) for item in rows["info"]["voList"]}


def shown_iso_ms(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# (API, how a shown time is written back, {operator: (parameters given T, rows expected given shown, T)})
CASES = {
    "native": (native, lambda t: t.isoformat(), {
        "after": (lambda t: {"updated_after": t}, lambda shown, t: shown > t),
        "before": (lambda t: {"updated_before": t}, lambda shown, t: shown < t)}),
    "elevate": (elevate, lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ"), {
        "after": (lambda t: {"updatedDateTime": f"gt:{t}"}, lambda shown, t: shown > t),
        "before": (lambda t: {"updatedDateTime": f"lt:{t}"}, lambda shown, t: shown < t),
        "at": (lambda t: {"updatedDateTime": t}, lambda shown, t: shown == t),
        "created after": (lambda t: {"createdDateTime": f"gt:{t}"}, lambda shown, t: shown > t)}),
    "postman": (postman, shown_iso_ms, {
        "after": (lambda t: {"created_at[gt]": t}, lambda shown, t: shown > t),
        "from": (lambda t: {"created_at[gte]": t}, lambda shown, t: shown >= t),
        "before": (lambda t: {"created_at[lt]": t}, lambda shown, t: shown < t),
        "until": (lambda t: {"created_at[lte]": t}, lambda shown, t: shown <= t)}),
    "infobip": (infobip, shown_iso_ms, {
        "from": (lambda t: {"sentSince": t}, lambda shown, t: shown >= t),
        "until": (lambda t: {"sentUntil": t}, lambda shown, t: shown <= t)}),
    "infobip v4": (infobip_v4, lambda t: shown_iso_ms(t).replace("Z", "+0000"), {
        "from": (lambda t: {"sentSince": t}, lambda shown, t: shown >= t),
        "until": (lambda t: {"sentUntil": t}, lambda shown, t: shown <= t)}),
    "sendcloud": (sendcloud, lambda t: t.astimezone(UTC8).date().isoformat(), {
        "that day": (lambda d: {"startDate": d, "endDate": d},
                     lambda shown, d: shown.astimezone(UTC8).date().isoformat() == d)}),
}


@pytest.mark.parametrize("api", sorted(CASES))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(offsets=st.lists(OFFSETS, min_size=1, max_size=10), data=st.data())
def test_filters_select_exactly_the_rows_shown_on_their_side(app, tenant, api, offsets, data):
    listing, written, operators = CASES[api]
    seed(app, tenant, offsets)
    client = app.test_client()
    shown = listing(client, tenant)
    assert len(shown) == len(offsets)
    seen = data.draw(st.sampled_from(sorted(shown.values())), label="a time the client saw")
    value = written(seen)
    for name, (parameters, selects) in operators.items():
        comparable = value if api == "sendcloud" else parse(value)
        expected = {row for row, moment in shown.items() if selects(moment, comparable)}
        assert set(listing(client, tenant, **parameters(value))) == expected, (name, value)
