"""The admin API, acknowledgement, retention and the health/metrics endpoints, on real PostgreSQL."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from tests.support.harness import drain, make_tenant
from tests.support.ses_events import bounce, for_message
from tests.support.sns_signing import notification
from tracker.pipeline import operations
from tracker.db import repository
from tracker.cli.main import main
from tracker.db.models import (
    Account,
    Delivery,
    DeliveryEvent,
    InboxEvent,
    WebhookAttempt,
    WebhookEvent,
    utcnow,
)
from tracker.providers.ses import parse as ses
from tracker.providers.common.errors import PayloadError


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
    real = ses.read_message
    monkeypatch.setattr(ses, "read_message", lambda *a, **k: (_ for _ in ()).throw(PayloadError("bug #7")))
    post_all(app, tenant, pki, bounce("m1", "r@example.com", "Permanent", "fb1", "2026-11-20T10:00:00.000Z"))
    monkeypatch.setattr(ses, "read_message", real)
    with app.extensions["tracker"].db.session() as session:
        return session.scalar(select(InboxEvent.id))


def test_admin_api_lists_shows_and_replays_failed_events(app, tenant, failed_bounce):
    client, operator = app.test_client(), operator_key(app, tenant)

    listing = client.get("/api/v1/admin/events", headers=operator).json
    assert [(e["id"], e["error"], e["failure_kind"]) for e in listing["data"]] == [
        (failed_bounce, "bug #7", "unmapped_shape")]
    shown = client.get(f"/api/v1/admin/events/{failed_bounce}", headers=operator).json
    assert shown["payload"]["Type"] == "Notification" and shown["deliveries"] == []

    replayed = client.post(f"/api/v1/admin/events/{failed_bounce}/replay", headers=operator).json
    assert replayed == {"replayed": 1, "processed": 1, "still_failing": 0}
    shown = client.get(f"/api/v1/admin/events/{failed_bounce}", headers=operator).json
    assert shown["state"] == "processed" and shown["replay_count"] == 1
    replayed = client.get("/api/v1/admin/events", query_string={"state": "replayed"}, headers=operator).json
    assert [e["id"] for e in replayed["data"]] == [failed_bounce]
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


def test_admin_api_pages_by_keyset_replays_by_filter_and_answers_json_errors(app, tenant, pki, monkeypatch):
    from tracker.http.api import admin

    real = ses.read_message
    monkeypatch.setattr(ses, "read_message", lambda *a, **k: (_ for _ in ()).throw(PayloadError("bug #8")))
    post_all(app, tenant, pki, *[bounce(f"m{n}", f"r{n}@example.com", "Permanent", f"fb{n}",
                                        "2026-11-20T10:00:00.000Z") for n in range(5)])
    client, operator = app.test_client(), operator_key(app, tenant)

    seen, cursor, pages = [], None, 0
    while True:
        page = client.get("/api/v1/admin/events", query_string={"limit": 2, **({"cursor": cursor} if cursor else {})},
                          headers=operator).json
        seen += [e["id"] for e in page["data"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and seen == sorted(seen) and len(set(seen)) == 5

    monkeypatch.setattr(ses, "read_message", real)
    monkeypatch.setattr(admin, "MAX_IDS", 2)
    results, cursor = [], None
    while True:
        body = {"filter": {"error_contains": "BUG #8"}, **({"cursor": cursor} if cursor else {})}
        answer = client.post("/api/v1/admin/events/replay", json=body, headers=operator).json
        results.append((answer["replayed"], answer["processed"], answer["still_failing"]))
        cursor = answer["next_cursor"]
        if cursor is None:
            break
    assert results == [(2, 2, 0), (2, 2, 0), (1, 1, 0)]
    assert client.get("/api/v1/admin/events", headers=operator).json["data"] == []

    for method, path, kwargs, status in [
        ("get", "/api/v1/admin/events", {}, 401),  # no key
        ("get", "/api/v1/admin/events/999999", {"headers": operator}, 404),
        ("get", "/api/v1/admin/events", {"headers": operator, "query_string": {"cursor": "!!"}}, 400),
        ("get", "/api/v1/admin/events", {"headers": operator, "query_string": {"limit": 0}}, 400),
        ("delete", f"/api/v1/admin/events/{seen[0]}", {"headers": operator}, 405),
        ("post", "/api/v1/admin/events/replay", {"headers": operator, "json": {}}, 400),
        ("post", "/api/v1/admin/events/replay", {"headers": operator, "json": {"ids": [1], "filter": {}}}, 400),
        ("post", f"/api/v1/admin/events/{seen[0]}/discard", {"headers": operator, "json": {"reason": "x"}}, 409),
    ]:
        response = getattr(client, method)(path, **kwargs)
        assert response.status_code == status, (path, response.status_code)
        assert response.is_json and set(response.json) == {"error", "detail"}, response.data


@pytest.mark.parametrize("outcome, acknowledgeable", [("bounce", True), ("delivery", False)])
def test_acknowledge_a_failed_delivery_or_409(app, tenant, pki, outcome, acknowledgeable):
    message = (bounce("m1", "r@example.com", "Permanent", "fb1", "2026-11-20T10:00:00.000Z") if outcome == "bounce"
               else for_message("event/delivery.json", "m1", ["r@example.com"],
                                delivery={"recipients": ["r@example.com"]}))
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


def test_purge_keeps_failed_events_and_respects_each_accounts_retention(app, tenant, pki, failed_bounce, pg_url):
    services = app.extensions["tracker"]
    post_all(app, tenant, pki, for_message("event/send.json", "m2", ["s@example.com"]))
    other = make_tenant(app, "other", ["*"])  # no retention set: keeps everything
    post_all(app, other, pki, for_message("event/send.json", "m3", ["t@example.com"]))
    long_ago = utcnow() - timedelta(days=40)
    with services.db.transaction() as session:
        [delivery] = session.scalars(select(Delivery).where(Delivery.account_id == tenant.account_id))
        subscription = repository.create_subscription(session, account_id=tenant.account_id,
                                                      url="https://app.example.com/hook", secret="whsec_t", statuses=[])
        for state in ("delivered", "parked", "pending"):
            session.add(WebhookEvent(account_id=tenant.account_id, subscription_id=subscription.id,
                                     delivery_id=delivery.id, type="delivery.status_changed",
                                     sequence={"delivered": 1, "parked": 2, "pending": 3}[state], payload="{}",
                                     state=state, created_at=long_ago, retry_window_start=long_ago))
        session.flush()
        delivered = session.scalar(select(WebhookEvent.id).where(WebhookEvent.state == "delivered"))
        session.add(WebhookAttempt(webhook_event_id=delivered, status_code=200, latency_ms=3.0))
        session.execute(update(InboxEvent).values(received_at=long_ago))
        session.execute(update(Delivery).values(updated_at=long_ago))
        repository.set_retention(session, session.get(Account, tenant.account_id), raw_days=30, delivery_days=30)

    preview = CliRunner().invoke(main, ["purge", "--dry-run"], env={"TRACKER_DATABASE_URL": pg_url,
                                                                     "TRACKER_BROKER_URL": ""})
    assert preview.exit_code == 0, preview.output
    assert preview.output.splitlines()[:3] == ["acme: would purge 1 raw events", "acme: would purge 1 deliveries",
                                               "acme: would purge 1 delivered webhook events"]
    with services.db.session() as session:
        assert len(list(session.scalars(select(InboxEvent)))) == 3  # a dry run deletes nothing

    operations.purge(services, dry_run=False)
    with services.db.session() as session:
        remaining = list(session.scalars(select(InboxEvent).where(InboxEvent.account_id == tenant.account_id)))
        assert [(r.id, r.state) for r in remaining] == [(failed_bounce, "failed")]
        assert [d.account_id for d in session.scalars(select(Delivery))] == [other.account_id]
        assert [e.account_id for e in session.scalars(select(DeliveryEvent))] == [other.account_id]
        assert sorted(e.state for e in session.scalars(select(WebhookEvent))) == ["parked", "pending"]
        assert list(session.scalars(select(WebhookAttempt))) == []
        assert len(list(session.scalars(select(InboxEvent)))) == 2  # the other account's raw event stays


def test_purge_leaves_the_raw_events_an_unfinished_rebuild_still_needs(app, tenant, pki, monkeypatch):
    services = app.extensions["tracker"]
    post_all(app, tenant, pki, *[for_message("event/send.json", f"m{n}", [f"r{n}@example.com"]) for n in range(3)])
    before = {d.message_id: d.status for d in _deliveries(app)}
    monkeypatch.setattr(operations, "CHUNK", 1)

    def crash(done):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        operations.rebuild(services, progress=crash)  # one raw event re-applied, two to go
    with services.db.transaction() as session:
        session.execute(update(InboxEvent).values(received_at=utcnow() - timedelta(days=40)))
        repository.set_retention(session, session.get(Account, tenant.account_id), raw_days=30, delivery_days=None)
    assert operations.purge(services, dry_run=False).raw_events == {"acme": 0}

    operations.rebuild(services)
    assert {d.message_id: d.status for d in _deliveries(app)} == before
    assert operations.purge(services, dry_run=False).raw_events == {"acme": 3}


def _deliveries(app):
    with app.extensions["tracker"].db.session() as session:
        return list(session.scalars(select(Delivery)))


def metric(text: str, name: str) -> float:
    """The value of one sample in a Prometheus exposition (0 when absent)."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_health_readiness_and_metrics(app, tenant, pki, failed_bounce):
    client = app.test_client()
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.json
    assert ready.json["checks"] == {"database": "ok", "migrations": "ok"}

    before = client.get("/metrics").get_data(as_text=True)
    client.post(tenant.hook, data=json.dumps({"Type": "Notification"}))  # refused: malformed
    post_all(app, tenant, pki, bounce("m2", "r2@example.com", "Permanent", "fb2", "2026-11-20T10:00:00.000Z"))
    services = app.extensions["tracker"]
    with services.db.transaction() as session:  # one event waiting for a worker for a minute
        source = repository.source_by_token(session, tenant.token)
        waiting = repository.store_inbox_event(session.connection(), source_id=source.id, account_id=tenant.account_id,
                                               provider="ses", kind="notification", dedupe_key="late", body="{}")
        session.execute(update(InboxEvent).where(InboxEvent.id == waiting)
                        .values(received_at=utcnow() - timedelta(seconds=60)))
        subscription = repository.create_subscription(session, account_id=tenant.account_id,
                                                      url="https://app.example.com/hook", secret="whsec_t", statuses=[])
        session.add(WebhookEvent(account_id=tenant.account_id, subscription_id=subscription.id, delivery_id=1,
                                 type="delivery.status_changed", sequence=1, payload="{}", state="parked"))
    text = client.get("/metrics").get_data(as_text=True)

    assert metric(text, 'tracker_inbox_events{state="failed"}') == 1
    assert metric(text, 'tracker_inbox_events{state="pending"}') == 1
    assert metric(text, 'tracker_inbox_events{state="processed"}') == 1
    assert metric(text, "tracker_processing_lag_seconds") >= 60
    assert metric(text, 'tracker_webhook_events{state="parked"}') == 1
    assert metric(text, 'tracker_webhook_events{state="delivered"}') == 0
    for name in ('tracker_events_refused_total{provider="ses",reason="malformed"}',
                 'tracker_events_received_total{provider="ses"}',
                 'tracker_status_transitions_total{status="BOUNCED"}',
                 'tracker_inbox_rows_total{outcome="processed"}'):
        assert metric(text, name) == metric(before, name) + 1, name


def test_readiness_checks_the_broker_and_survives_a_database_restart(make_app, redis_url, pg_url):
    import sqlalchemy as sa

    app = make_app(broker_url=redis_url)
    client = app.test_client()
    assert client.get("/readyz").json["checks"] == {"database": "ok", "migrations": "ok", "broker": "ok"}
    engine = app.extensions["tracker"].db.engine
    with engine.connect() as connection:  # the connection the pool hands out next
        pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    other = sa.create_engine(pg_url)
    with other.begin() as connection:  # as a database restart would: the pooled connection dies
        connection.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    other.dispose()
    ready = client.get("/readyz")  # the database is back: ready, whatever the pool held
    assert ready.status_code == 200, ready.json


def test_readiness_fails_when_migrations_are_not_at_head(make_app, pg_url):
    import sqlalchemy as sa

    from tests.support.database import ADMIN_URL

    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"{sa.make_url(pg_url).database}_empty"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        from tracker import create_app
        from tracker.config import Config

        empty = create_app(Config(database_url=sa.make_url(pg_url).set(database=name).render_as_string(False)))
        response = empty.test_client().get("/readyz")
        empty.extensions["tracker"].db.dispose()
        assert response.status_code == 503
        assert response.json["checks"]["database"] == "ok"
        assert "tracker db upgrade" in response.json["checks"]["migrations"]
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def test_readiness_fails_without_the_database():
    from tracker import create_app
    from tracker.config import Config

    down = create_app(Config(database_url="postgresql+psycopg2://postgres@127.0.0.1:1/none",
                             broker_url="redis://127.0.0.1:1/0"))
    response = down.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["database"].startswith("failed")
    assert response.json["checks"]["broker"].startswith("failed")
