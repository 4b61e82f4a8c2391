"""Webhook sending never waits on itself: no event leased and left unsent, and a dead sender's
leases come free within one short lease, not after the POST timeout."""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.support.harness import make_tenant
from tests.support.process_tree import celery_main
from tests.support.processes import poll, python, running, wait_for_log
from tests.support.receiver import receiving
from tracker.db.models import WebhookEvent, utcnow
from tracker.outbound import sender

pytestmark = pytest.mark.integration


@pytest.fixture
def hooks_app(make_app):
    def build(**overrides):
        return make_app(webhook_allow_http=True, webhook_allowed_networks="127.0.0.0/8:*", **overrides)
    return build


def subscribe(app, tenant, url) -> int:
    response = app.test_client().post("/api/v1/webhooks", json={"url": url}, headers=tenant.auth)
    assert response.status_code == 201, response.json
    return response.json["id"]


def queue_events(app, tenant, subscription_id: int, count: int) -> list[int]:
    with app.extensions["tracker"].db.transaction() as session:
        events = [WebhookEvent(account_id=tenant.account_id, subscription_id=subscription_id, delivery_id=n,
                               type="delivery.status_changed", sequence=1, payload=json.dumps({"n": n}),
                               state="pending", retry_window_start=utcnow()) for n in range(count)]
        session.add_all(events)
        session.flush()
        return [e.id for e in events]


def states(app) -> dict[str, int]:
    with app.extensions["tracker"].db.session() as session:
        return dict(session.execute(select(WebhookEvent.state, func.count()).group_by(WebhookEvent.state)).all())


def test_a_sender_that_stops_leaves_no_event_leased(hooks_app):
    """The issue's finding: after its 100th send the loop leased the next event and exited
    without sending it; the lease held one of the subscription's two slots for 50 s."""
    app = hooks_app()
    tenant = make_tenant(app, "acme", ["*"])
    services, settings = app.extensions["tracker"], app.extensions["tracker"].webhook_settings
    with receiving() as receiver:
        queue_events(app, tenant, subscribe(app, tenant, receiver.url), 150)
        [first] = sender.lease(services, settings, limit=1)
        assert sender.deliver_and_continue(services, first, settings, max_events=100) == 100

    assert states(app) == {"delivered": 100, "pending": 50}
    assert len(receiver.requests) == 100


def test_a_healthy_subscriber_gets_every_event_without_waiting_for_a_lease(hooks_app):
    """450 events to a subscriber answering at once: rounds of sending go on until all are
    delivered; none stops short because an earlier round left the subscription's slots leased."""
    app = hooks_app()
    tenant = make_tenant(app, "acme", ["*"])
    services, settings = app.extensions["tracker"], app.extensions["tracker"].webhook_settings
    with receiving() as receiver:
        ids = queue_events(app, tenant, subscribe(app, tenant, receiver.url), 450)
        for _ in range(10):
            if not sender.send_due(services, settings):
                break

    assert states(app) == {"delivered": 450}
    assert sorted(r["json"]["n"] for r in receiver.requests) == list(range(450))
    assert len(ids) == 450


def test_a_lease_is_short_and_renewed_while_the_post_is_in_flight(hooks_app):
    """A POST slower than the lease keeps its event: the lease moves on while it waits."""
    app = hooks_app()
    tenant = make_tenant(app, "acme", ["*"])
    services = app.extensions["tracker"]
    settings = dataclasses.replace(services.webhook_settings, lease=timedelta(seconds=1))
    assert settings.lease < timedelta(seconds=settings.timeout)  # a dead sender costs a lease, not a timeout
    seen: list = []

    def lease_now():
        with services.db.session() as session:
            return session.scalar(select(WebhookEvent.leased_until))

    with receiving(hang=4) as receiver:
        queue_events(app, tenant, subscribe(app, tenant, receiver.url), 1)
        receiver.on_request = lambda request: seen.append(lease_now())
        thread = threading.Thread(target=sender.send_due, args=(services, settings))
        thread.start()
        assert poll(lambda: seen, timeout=30)
        renewed = poll(lambda: (lease_now() or seen[0]) > seen[0] and lease_now(), timeout=30)
        assert renewed, "the lease was not renewed while the POST was in flight"
        assert sender.send_due(services, settings) == 0  # another sender finds nothing due meanwhile
        thread.join(30)

    assert len(receiver.requests) == 1
    assert states(app) == {"delivered": 1}


def test_a_webhook_worker_killed_mid_post_frees_its_leases_within_one_lease(
        hooks_app, pg_url, redis_url, tmp_path):
    """SIGKILL the real `tracker worker --webhooks`'s Celery while its POST hangs: the event is
    taken over by the next sender once the short lease runs out, not after the POST timeout."""
    from celery import Celery

    app = hooks_app(webhook_timeout=30.0)  # the old lease was 2 x 30 + 30 s
    tenant = make_tenant(app, "acme", ["*"])
    services = app.extensions["tracker"]
    env = {"TRACKER_DATABASE_URL": pg_url, "TRACKER_BROKER_URL": redis_url, "TRACKER_WEBHOOK_TIMEOUT": "30",
           "TRACKER_WEBHOOKS_ALLOW_HTTP": "1", "TRACKER_WEBHOOKS_ALLOWED_NETWORKS": "127.0.0.0/8:*"}
    log = tmp_path / "webhooks.log"
    with receiving(hang=3600) as receiver:
        [event_id] = queue_events(app, tenant, subscribe(app, tenant, receiver.url), 1)
        with running(python("-m", "tracker.cli.main", "worker", "--webhooks"), env, log) as worker:
            wait_for_log(log, "ready", worker)
            Celery(broker=redis_url).send_task("workers.tasks.send_webhooks", queue="webhooks")  # as beat does
            assert poll(lambda: receiver.requests, timeout=30), log.read_text()
            # The Celery process dies as the OOM killer would have it; its supervisor too, before
            # it starts another, so that the next sender is this test's.
            os.killpg(celery_main(worker.pid), signal.SIGKILL)
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(10)
        killed_at = utcnow()
        with services.db.session() as session:
            event = session.get(WebhookEvent, event_id)
        assert event.state == "sending"
        assert event.leased_until - killed_at <= services.webhook_settings.lease  # what the dead sender holds

        receiver.hang = 0
        settings = services.webhook_settings

        def taken_over():
            sender.send_due(services, settings)
            return states(app).get("delivered")

        assert poll(taken_over, timeout=25, interval=0.5), "the dead sender's lease still holds the event"
    assert [r["json"]["n"] for r in receiver.requests] == [0, 0]  # the same event, sent again
