"""The admin API, acknowledgement, retention and the health/metrics endpoints, on real PostgreSQL."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tests.support.harness import drain, make_tenant
from tests.support.ses_events import bounce, for_message
from tests.support.sns_signing import notification
from tracker import operations, repository
from tracker.models import Account, Delivery, DeliveryEvent, InboxEvent, utcnow
from tracker.providers import ses
from tracker.providers.errors import PayloadError


def post_all(app, tenant, pki, *messages):
    for message in messages:
        response = app.test_client().post(tenant.hook, data=json.dumps(pki.sign(notification(message))))
        assert response.status_code == 200
    drain(app)


def operator_key(app, tenant) -> dict:
    with app.extensions["tracker"].db.transaction() as session:
        account = session.get(Account, tenant.account_id)
        return {"Authorization": f"Bearer {repository.create_api_key(session, account, role='operator')}"}


@pytest.fixture
def failed_bounce(app, tenant, pki, monkeypatch):
    """One bounce that failed on a (since fixed) parser bug."""
    real = ses.parse_message
    monkeypatch.setattr(ses, "parse_message", lambda *a, **k: (_ for _ in ()).throw(PayloadError("bug #7")))
    post_all(app, tenant, pki, bounce("m1", "r@example.com", "Permanent", "fb1", "2026-11-20T10:00:00.000Z"))
    monkeypatch.setattr(ses, "parse_message", real)
    with app.extensions["tracker"].db.session() as session:
        return session.scalar(select(InboxEvent.id))


def test_admin_api_lists_shows_and_replays_failed_events(app, tenant, failed_bounce):
    client, operator = app.test_client(), operator_key(app, tenant)

    listing = client.get("/api/v1/admin/events", headers=operator).json
    assert [(e["id"], e["error"], e["failure_kind"]) for e in listing["data"]] == [(failed_bounce, "bug #7", "parse")]
    shown = client.get(f"/api/v1/admin/events/{failed_bounce}", headers=operator).json
    assert shown["payload"]["Type"] == "Notification" and shown["deliveries"] == []

    replayed = client.post(f"/api/v1/admin/events/{failed_bounce}/replay", headers=operator).json
    assert replayed == {"replayed": 1, "processed": 1, "still_failing": 0}
    shown = client.get(f"/api/v1/admin/events/{failed_bounce}", headers=operator).json
    assert shown["state"] == "processed" and shown["replay_count"] == 1
    assert [d["status"] for d in shown["deliveries"]] == ["BOUNCED"]
    again = client.post("/api/v1/admin/events/replay", json={"ids": [failed_bounce]}, headers=operator).json
    assert again == {"replayed": 0, "processed": 0, "still_failing": 0}


def test_admin_api_discards_with_reason_and_needs_an_operator_key_of_the_account(app, tenant, failed_bounce):
    client = app.test_client()
    assert client.get("/api/v1/admin/events", headers=tenant.auth).status_code == 403
    other = make_tenant(app, "other", ["*"])
    other_operator = operator_key(app, other)
    assert client.get("/api/v1/admin/events", headers=other_operator).json["data"] == []
    assert client.get(f"/api/v1/admin/events/{failed_bounce}", headers=other_operator).status_code == 404
    assert client.post(f"/api/v1/admin/events/{failed_bounce}/replay", headers=other_operator).status_code == 404

    operator = operator_key(app, tenant)
    assert client.post("/api/v1/admin/events/discard", json={"ids": [failed_bounce]},
                       headers=operator).status_code == 400  # a reason is required
    done = client.post(f"/api/v1/admin/events/{failed_bounce}/discard", json={"reason": "duplicate test"},
                       headers=operator)
    assert done.json == {"discarded": [failed_bounce]}
    shown = client.get(f"/api/v1/admin/events/{failed_bounce}", headers=operator).json
    assert (shown["state"], shown["discard_reason"]) == ("discarded", "duplicate test")
    assert shown["discarded_by"].startswith("key:")
    page = client.get("/api/v1/admin/events", query_string={"state": "bogus"}, headers=operator)
    assert page.status_code == 400 and "state" in page.json["detail"]


@pytest.mark.parametrize("outcome, acknowledgeable", [("bounce", True), ("delivery", False)])
def test_acknowledge_a_failed_delivery_or_409(app, tenant, pki, outcome, acknowledgeable):
    message = (bounce("m1", "r@example.com", "Permanent", "fb1", "2026-11-20T10:00:00.000Z") if outcome == "bounce"
               else for_message("event/delivery.json", "m1", ["r@example.com"], delivery={"recipients": ["r@example.com"]}))
    post_all(app, tenant, pki, message)
    client = app.test_client()
    [item] = client.get("/api/v1/deliveries", headers=tenant.auth).json["data"]

    response = client.post(f"/api/v1/deliveries/{item['id']}/acknowledge", json={"note": "customer fixed it"},
                           headers=tenant.auth)

    if acknowledgeable:
        assert response.status_code == 200 and response.json["status"] == "ACKNOWLEDGED"
        again = client.post(f"/api/v1/deliveries/{item['id']}/acknowledge", headers=tenant.auth)
        assert again.status_code == 409 and "already acknowledged" in again.json["detail"]
        history = client.get(f"/api/v1/deliveries/{item['id']}/events", headers=tenant.auth).json["data"]
        assert history[-1]["type"] == "acknowledged" and history[-1]["details"]["note"] == "customer fixed it"
        operations.rebuild(app.extensions["tracker"])  # kept by a rebuild: it is in the inbox
        assert client.get("/api/v1/deliveries", headers=tenant.auth).json["data"][0]["status"] == "ACKNOWLEDGED"
    else:
        assert response.status_code == 409 and "DELIVERED" in response.json["detail"]
    other = make_tenant(app, "other", ["*"])
    assert client.post(f"/api/v1/deliveries/{item['id']}/acknowledge", headers=other.auth).status_code == 404


def test_purge_keeps_failed_events_and_respects_each_accounts_retention(app, tenant, pki, failed_bounce):
    services = app.extensions["tracker"]
    post_all(app, tenant, pki, for_message("event/send.json", "m2", ["s@example.com"]))
    long_ago = utcnow() - timedelta(days=40)
    with services.db.transaction() as session:
        session.execute(update(InboxEvent).values(received_at=long_ago))
        session.execute(update(Delivery).values(updated_at=long_ago))
        repository.set_retention(session, session.get(Account, tenant.account_id), raw_days=30, delivery_days=30)

    preview = operations.purge(services, dry_run=True)
    assert (preview.raw_events, preview.deliveries) == ({"acme": 1}, {"acme": 1})
    with services.db.session() as session:
        assert len(list(session.scalars(select(InboxEvent)))) == 2  # a dry run deletes nothing

    operations.purge(services, dry_run=False)
    with services.db.session() as session:
        remaining = list(session.scalars(select(InboxEvent)))
        assert [(r.id, r.state) for r in remaining] == [(failed_bounce, "failed")]
        assert list(session.scalars(select(Delivery))) == []
        assert list(session.scalars(select(DeliveryEvent))) == []


def test_health_readiness_and_metrics(app, tenant, pki, failed_bounce):
    client = app.test_client()
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.json
    assert ready.json["checks"] == {"database": "ok", "migrations": "ok"}

    client.post(tenant.hook, data=json.dumps({"Type": "Notification"}))  # refused: malformed
    text = client.get("/metrics").get_data(as_text=True)
    assert 'tracker_inbox_events{state="failed"} 1.0' in text
    assert "tracker_processing_lag_seconds 0.0" in text
    assert 'tracker_events_refused_total{provider="ses",reason="malformed"}' in text
    assert 'tracker_events_received_total{provider="ses"}' in text


def test_readiness_fails_without_the_database():
    from tracker import create_app
    from tracker.config import Config

    down = create_app(Config(database_url="postgresql+psycopg2://postgres@127.0.0.1:1/none",
                             broker_url="redis://127.0.0.1:1/0"))
    response = down.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["database"].startswith("failed")
    assert response.json["checks"]["broker"].startswith("failed")
