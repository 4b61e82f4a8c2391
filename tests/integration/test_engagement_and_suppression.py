"""Engagement per delivery and the account's suppression list, fed by SES events through the worker."""
from __future__ import annotations

import json

import pytest

from tests.support.harness import drain, make_tenant
from tests.support.ses_events import bounce, for_message, recorded
from tests.support.sns_signing import notification


def post_all(app, tenant, pki, *messages):
    client = app.test_client()
    for message in messages:
        assert client.post(tenant.hook, data=json.dumps(pki.sign(notification(message)))).status_code == 200
    drain(app)


def get(app, tenant, path, **params):
    return app.test_client().get(path, query_string=params, headers=tenant.auth)


def opened(message_id, recipient, at):
    return for_message("event/open.json", message_id, [recipient], open={"timestamp": at})


def clicked(message_id, recipient, at, link):
    return for_message("event/click.json", message_id, [recipient], click={"timestamp": at, "link": link})


def test_opens_and_clicks_are_counted_once_with_first_last_and_last_link(app, tenant, pki):
    r = "reader@example.com"
    post_all(app, tenant, pki,
             opened("m1", r, "2026-11-22T10:00:00.000Z"),
             clicked("m1", r, "2026-11-22T10:05:00.000Z", "https://example.com/b"),
             opened("m1", r, "2026-11-22T09:00:00.000Z"),  # arrives late, happened first
             clicked("m1", r, "2026-11-22T10:01:00.000Z", "https://example.com/a"),
             opened("m1", r, "2026-11-22T10:00:00.000Z"))  # a redelivery
    [item] = get(app, tenant, "/api/v1/deliveries", message_id="m1").json["data"]

    assert item["status"] == "OPENED"
    engagement = item["engagement"]
    assert (engagement["opens"], engagement["clicks"]) == (2, 2)
    assert engagement["first_opened_at"].startswith("2026-11-22T09:00:00")
    assert engagement["last_opened_at"].startswith("2026-11-22T10:00:00")
    assert engagement["first_clicked_at"].startswith("2026-11-22T10:01:00")
    assert engagement["last_clicked_link"] == "https://example.com/b"


def test_open_of_a_single_recipient_message_is_attributed_to_it(app, tenant, pki):
    post_all(app, tenant, pki, recorded("event/open.json"))
    [item] = get(app, tenant, "/api/v1/deliveries").json["data"]
    assert item["recipient"] == recorded("event/open.json")["mail"]["destination"][0].lower()
    assert item["engagement"]["opens"] == 1


@pytest.mark.parametrize("event, reason", [
    (bounce("m1", "gone@example.com", "Permanent", "fb-1", "2026-11-01T00:00:00.000Z"), "hard_bounce"),
    (for_message("event/complaint.json", "m1", ["gone@example.com"],
                 complaint={"complainedRecipients": [{"emailAddress": "gone@example.com"}]}), "complaint"),
    (for_message("event/subscription.json", "m1", ["gone@example.com"],
                 subscription={"newTopicPreferences": {"unsubscribeAll": True}}), "unsubscribe"),
])
def test_each_reason_suppresses_at_once_with_its_source_event(app, tenant, pki, event, reason):
    post_all(app, tenant, pki, event)

    response = get(app, tenant, "/api/v1/suppressions/Gone@Example.com")

    assert response.status_code == 200
    assert response.json["reason"] == reason
    assert response.json["message_id"] == "m1"
    assert response.json["event_key"]


def test_soft_bounces_suppress_only_at_the_limit_within_the_window(make_app, pki):
    app = make_app(soft_bounce_limit=2, soft_bounce_window_days=7)
    tenant = make_tenant(app, "soft", ["*"])
    address = "full@example.com"
    post_all(app, tenant, pki, bounce("m1", address, "Transient", "fb-1", "2026-10-01T00:00:00.000Z"),
             bounce("m2", address, "Transient", "fb-2", "2026-11-01T00:00:00.000Z"))  # 31 days apart
    assert get(app, tenant, f"/api/v1/suppressions/{address}").status_code == 404

    post_all(app, tenant, pki, bounce("m3", address, "Transient", "fb-3", "2026-11-03T00:00:00.000Z"))
    response = get(app, tenant, f"/api/v1/suppressions/{address}")
    assert response.status_code == 200
    assert response.json["reason"] == "soft_bounces"
    assert response.json["message_id"] == "m3"


def test_list_filters_by_reason_and_pages(app, tenant, pki):
    post_all(app, tenant, pki, *[bounce(f"m{n}", f"r{n}@example.com", "Permanent", f"fb{n}",
                                        "2026-11-01T00:00:00.000Z") for n in range(5)])
    post_all(app, tenant, pki, for_message("event/complaint.json", "mc", ["c@example.com"],
                                           complaint={"complainedRecipients": [{"emailAddress": "c@example.com"}]}))

    seen, cursor = [], None
    while True:
        body = get(app, tenant, "/api/v1/suppressions", reason="hard_bounce", limit=2,
                   **({"cursor": cursor} if cursor else {})).json
        seen += [s["address"] for s in body["data"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == [f"r{n}@example.com" for n in range(5)]
    assert get(app, tenant, "/api/v1/suppressions", reason="nonsense").status_code == 400


def test_removal_is_audited_and_only_in_the_callers_account(app, tenant, pki):
    from sqlalchemy import select

    from tracker.db.models import SuppressionRemoval

    other = make_tenant(app, "other", ["*"])
    post_all(app, tenant, pki, bounce("m1", "gone@example.com", "Permanent", "fb-1", "2026-11-01T00:00:00.000Z"))

    assert get(app, other, "/api/v1/suppressions/gone@example.com").status_code == 404
    assert app.test_client().delete("/api/v1/suppressions/gone@example.com", headers=other.auth).status_code == 404
    assert app.test_client().delete("/api/v1/suppressions/gone@example.com", headers=tenant.auth).status_code == 204
    assert get(app, tenant, "/api/v1/suppressions/gone@example.com").status_code == 404

    with app.extensions["tracker"].db.session() as session:
        [audit] = session.scalars(select(SuppressionRemoval))
    assert audit.address == "gone@example.com"
    assert audit.removed_by == tenant.key.split("_")[1]
    assert audit.suppression["reason"] == "hard_bounce"


@pytest.fixture
def event_keys_collated_as_in_en_us(pg_db):
    """suppressions.event_key with en-US's collation, as in a database created with the default locale of
    most installs (en_US.UTF-8) rather than C: there "aq" sorts before "Zq", where code points put "Z" first."""
    def collate(collation: str) -> None:
        with pg_db.engine.begin() as connection:
            connection.exec_driver_sql(
                f'ALTER TABLE suppressions ALTER COLUMN event_key TYPE varchar(400) COLLATE "{collation}"')

    collate("en-US-x-icu")
    yield
    collate("default")


@pytest.mark.parametrize("order", [["aq", "Zq"], ["Zq", "aq"], ["aq+Zq"]], ids=["aq-first", "Zq-first", "together"])
def test_an_entry_names_the_same_of_two_bounces_at_one_moment_whichever_came_first(
        app, tenant, pki, event_keys_collated_as_in_en_us, order):
    """Two hard bounces of one address at the same moment (providers' times are often whole seconds),
    applied one after the other or in one batch: the entry names the one tracker.domain.suppression's
    entry_order puts first, as a batch holding both picks it."""
    address, at = "twice@example.com", "2026-11-01T00:00:00.000Z"
    feedback = {"aq": bounce("m-aq", address, "Permanent", "aq-feedback", at),
                "Zq": bounce("m-Zq", address, "Permanent", "Zq-feedback", at)}
    for batch in order:
        post_all(app, tenant, pki, *[feedback[name] for name in batch.split("+")])

    response = get(app, tenant, f"/api/v1/suppressions/{address}")

    assert response.status_code == 200
    assert response.json["message_id"] == "m-Zq"  # "...:Zq-feedback" < "...:aq-feedback" by code point


def test_a_soft_bounce_entry_names_its_provider_after_the_raw_events_were_purged(make_app, pki):
    """An account keeping raw events a day (tracker accounts retention --raw-days 1) and counting soft
    bounces over 30 days: an address two soft bounces suppressed, removed from the list by the application,
    bounces softly again days later. It is suppressed again, the entry naming the bounce that first reached
    the limit, whose raw event retention has removed since: its provider is still the one that reported it."""
    from datetime import timedelta

    from sqlalchemy import update

    from tracker.db import repository
    from tracker.db.models import Account, InboxEvent, utcnow
    from tracker.pipeline import operations

    app = make_app(soft_bounce_limit=2, soft_bounce_window_days=30)
    tenant = make_tenant(app, "short-raw", ["*"])
    services = app.extensions["tracker"]
    address = "flaky@example.com"
    post_all(app, tenant, pki, bounce("m1", address, "Transient", "fb-1", "2026-11-01T00:00:00.000Z"),
             bounce("m2", address, "Transient", "fb-2", "2026-11-03T00:00:00.000Z"))
    assert get(app, tenant, f"/api/v1/suppressions/{address}").json["message_id"] == "m2"
    removed = app.test_client().delete(f"/api/v1/suppressions/{address}", headers=tenant.auth)
    assert removed.status_code in (200, 204), removed.get_data(as_text=True)
    with services.db.transaction() as session:
        session.execute(update(InboxEvent).values(received_at=utcnow() - timedelta(days=2)))
        repository.set_retention(session, session.get(Account, tenant.account_id), raw_days=1, delivery_days=None)
    assert operations.purge(services, dry_run=False).raw_events == {"short-raw": 2}

    post_all(app, tenant, pki, bounce("m3", address, "Transient", "fb-3", "2026-11-06T00:00:00.000Z"))

    response = get(app, tenant, f"/api/v1/suppressions/{address}")
    assert response.status_code == 200
    assert (response.json["reason"], response.json["message_id"]) == ("soft_bounces", "m2")
    assert response.json["provider"] == "ses"
