"""Outbound webhooks against a real HTTP receiver on loopback: signed, retried, parked, replayed."""
from __future__ import annotations

import json
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from tests.support.harness import drain, make_tenant
from tests.support.receiver import Receiver, receiving
from tests.support.ses_events import bounce, for_message
from tests.support.sns_signing import notification
from tracker.db.models import WebhookAttempt, WebhookEvent, utcnow
from tracker.outbound import sender, signing

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture
def hooks_app(make_app):
    """Loopback is allowed here only because the test receiver lives there (on a random port)."""
    def build(**overrides):
        return make_app(webhook_allow_http=True, webhook_allowed_networks="127.0.0.0/8:*", **overrides)
    return build


def subscribe(app, tenant, url, **fields) -> dict:
    response = app.test_client().post("/api/v1/webhooks", json={"url": url, **fields}, headers=tenant.auth)
    assert response.status_code == 201, response.json
    return response.json


def change_statuses(app, tenant, pki, *messages) -> None:
    for message in messages:
        assert app.test_client().post(tenant.hook, data=json.dumps(pki.sign(notification(message)))).status_code == 200
    drain(app)


def send(app) -> int:
    services = app.extensions["tracker"]
    return sender.send_due(services, services.webhook_settings)


def make_due(app) -> None:
    """The clock moves past every retry delay."""
    with app.extensions["tracker"].db.transaction() as session:
        session.execute(update(WebhookEvent).where(WebhookEvent.state == "pending").values(next_attempt_at=utcnow()))


def readme_recipe() -> str:
    text = README.read_text()
    return re.search(r"<!-- webhook-recipe -->\s*```python\n(.*?)```", text, re.S).group(1)


def test_each_status_change_is_posted_signed_and_the_readme_recipe_verifies_it(hooks_app, pki):
    app = hooks_app()
    tenant = make_tenant(app, "acme", ["*"])
    with receiving() as receiver:
        created = subscribe(app, tenant, receiver.url)
        change_statuses(app, tenant, pki, for_message("event/send.json", "m1", ["r@example.com"]))
        change_statuses(app, tenant, pki, bounce("m1", "r@example.com", "Permanent", "fb1", "2026-11-20T10:00:00.000Z"))
        send(app)

    assert len(receiver.requests) == 2
    first, second = sorted(receiver.requests, key=lambda r: r["json"]["sequence"])
    assert (first["json"]["delivery"]["status"], second["json"]["delivery"]["status"]) == ("SENT", "BOUNCED")
    assert (first["json"]["sequence"], second["json"]["sequence"]) == (1, 2)
    assert second["json"]["type"] == "delivery.status_changed" and second["json"]["id"]

    recipe = {}
    exec(readme_recipe(), recipe)  # the README's recipe, exactly as a reader would paste it
    assert readme_recipe() == signing.RECIPE  # the one the unit tests try every refusal on
    headers = second["headers"]
    assert recipe["verify"](created["secret"], second["body"], headers["X-Tracker-Timestamp"],
                            headers["X-Tracker-Signature"])
    assert not recipe["verify"](created["secret"], second["body"] + b" ", headers["X-Tracker-Timestamp"],
                                headers["X-Tracker-Signature"])
    assert not recipe["verify"]("whsec_wrong", second["body"], headers["X-Tracker-Timestamp"],
                                headers["X-Tracker-Signature"])


def test_a_500_then_200_is_retried_and_delivered_once(hooks_app, pki):
    app = hooks_app()
    tenant = make_tenant(app, "acme", ["*"])
    with receiving(statuses=(500, 200)) as receiver:
        subscribe(app, tenant, receiver.url)
        change_statuses(app, tenant, pki, for_message("event/send.json", "m1", ["r@example.com"]))
        send(app)
        with app.extensions["tracker"].db.session() as session:
            [event] = session.scalars(select(WebhookEvent))
        assert (event.state, event.last_status) == ("pending", 500) and event.next_attempt_at > utcnow()
        assert send(app) == 0  # not due yet
        make_due(app)
        send(app)
        send(app)

    assert [r["json"]["id"] for r in receiver.requests] == [receiver.requests[0]["json"]["id"]] * 2
    with app.extensions["tracker"].db.session() as session:
        [event] = session.scalars(select(WebhookEvent))
        attempts = list(session.scalars(select(WebhookAttempt).order_by(WebhookAttempt.id)))
    assert event.state == "delivered"
    assert [a.status_code for a in attempts] == [500, 200]
    assert all(a.latency_ms is not None for a in attempts)


def test_a_dead_receiver_parks_the_event_and_replay_delivers_it(hooks_app, pki):
    app = hooks_app(webhook_max_age_hours=0)  # give up after the first failed attempt
    tenant = make_tenant(app, "acme", ["*"])
    dead = Receiver()
    port, url = dead.port, dead.url
    dead.stop()  # nothing listens there any more
    subscription = subscribe(app, tenant, url)
    change_statuses(app, tenant, pki, for_message("event/send.json", "m1", ["r@example.com"]))
    send(app)
    with app.extensions["tracker"].db.session() as session:
        [event] = session.scalars(select(WebhookEvent))
    assert event.state == "parked" and event.last_error

    log = app.test_client().get(f"/api/v1/webhooks/{subscription['id']}/events", query_string={"state": "parked"},
                                headers=tenant.auth).json["data"]
    assert [e["id"] for e in log] == [event.id]

    from tracker.db import repository
    from tracker.db.models import Account

    with app.extensions["tracker"].db.transaction() as session:
        operator = repository.create_api_key(session, session.get(Account, tenant.account_id), role="operator")
    with receiving(port=port) as alive:
        replayed = app.test_client().post(f"/api/v1/admin/webhooks/{subscription['id']}/replay",
                                          headers={"Authorization": f"Bearer {operator}"})
        assert replayed.json == {"replayed": [event.id]}
        send(app)
    assert len(alive.requests) == 1
    with app.extensions["tracker"].db.session() as session:
        assert session.get(WebhookEvent, event.id).state == "delivered"


def test_a_subscription_failing_too_long_is_disabled_and_its_owner_reenables_it(hooks_app, pki):
    app = hooks_app(webhook_disable_after_hours=0)
    tenant = make_tenant(app, "acme", ["*"])
    with receiving(statuses=(503,)) as receiver:
        subscription = subscribe(app, tenant, receiver.url)
        change_statuses(app, tenant, pki, for_message("event/send.json", "m1", ["r@example.com"]))
        send(app)
        shown = app.test_client().get(f"/api/v1/webhooks/{subscription['id']}", headers=tenant.auth).json
        assert shown["active"] is False and "503" in shown["disabled_reason"]

        make_due(app)
        assert send(app) == 0  # a disabled subscription is sent nothing
        receiver.statuses = [200]
        enabled = app.test_client().patch(f"/api/v1/webhooks/{subscription['id']}", json={"active": True},
                                          headers=tenant.auth).json
        assert enabled["active"] is True and enabled["disabled_reason"] is None
        make_due(app)
        send(app)
    assert [r for r in receiver.requests if r["json"]["type"] == "delivery.status_changed"][-1]
    with app.extensions["tracker"].db.session() as session:
        assert [e.state for e in session.scalars(select(WebhookEvent))] == ["delivered"]


def test_status_filter_test_event_and_tenant_isolation(hooks_app, pki):
    app = hooks_app()
    tenant = make_tenant(app, "acme", ["*"])
    other = make_tenant(app, "other", ["*"])
    with receiving() as receiver:
        subscription = subscribe(app, tenant, receiver.url, statuses=["BOUNCED"])
        change_statuses(app, tenant, pki, for_message("event/send.json", "m1", ["r@example.com"]),
                        bounce("m1", "r@example.com", "Permanent", "fb1", "2026-11-20T10:00:00.000Z"))
        assert app.test_client().post(f"/api/v1/webhooks/{subscription['id']}/test",
                                      headers=tenant.auth).status_code == 202
        send(app)
    types = sorted((r["json"]["type"], (r["json"]["delivery"] or {}).get("status")) for r in receiver.requests)
    assert types == [("delivery.status_changed", "BOUNCED"), ("webhook.test", None)]

    listing = app.test_client().get("/api/v1/webhooks", headers=tenant.auth).json["data"]
    assert [s["id"] for s in listing] == [subscription["id"]] and "secret" not in listing[0]
    for method in ("get", "patch", "delete"):
        response = getattr(app.test_client(), method)(f"/api/v1/webhooks/{subscription['id']}", json={},
                                                       headers=other.auth)
        assert response.status_code == 404
    assert app.test_client().get("/api/v1/webhooks", headers=other.auth).json["data"] == []


@pytest.mark.parametrize("url, fragment", [
    ("http://example.com/hook", "https"),
    ("https://169.254.169.254/latest/meta-data", "169.254.169.254"),
    ("https://10.0.0.5/hook", "10.0.0.5"),
    ("https://[::1]/hook", "::1"),
    ("ftp://example.com/hook", "https"),
])
def test_unsafe_destinations_are_refused(make_app, url, fragment):
    app = make_app()  # production rules: https only, no private or metadata addresses
    tenant = make_tenant(app, "acme", ["*"])
    response = app.test_client().post("/api/v1/webhooks", json={"url": url}, headers=tenant.auth)
    assert response.status_code == 400
    assert fragment in response.json["detail"]


@pytest.mark.parametrize("port", [22, 6379, 5432])
def test_an_allowed_network_opens_the_web_ports_not_every_port(make_app, port):
    """The issue's finding: with 127.0.0.0/8 allowed, subscriptions to the host's SSH, Redis and
    PostgreSQL ports were accepted. A network names its ports; without any, 443 (and 80 with http)."""
    app = make_app(webhook_allow_http=True, webhook_allowed_networks="127.0.0.0/8")
    tenant = make_tenant(app, "acme", ["*"])
    client = app.test_client()

    refused = client.post("/api/v1/webhooks", json={"url": f"http://127.0.0.1:{port}/"}, headers=tenant.auth)
    assert refused.status_code == 400
    assert f"not {port}" in refused.json["detail"] and "127.0.0.0/8" in refused.json["detail"]
    for url in ("http://127.0.0.1/hook", "https://127.0.0.1/hook"):
        assert client.post("/api/v1/webhooks", json={"url": url}, headers=tenant.auth).status_code == 201, url

    named = make_app(webhook_allow_http=True, webhook_allowed_networks=f"127.0.0.0/8:{port}")
    assert named.test_client().post("/api/v1/webhooks", json={"url": f"http://127.0.0.1:{port}/"},
                                    headers=tenant.auth).status_code == 201


def queue_events(app, tenant, subscription_id: int, count: int) -> list[int]:
    with app.extensions["tracker"].db.transaction() as session:
        events = [WebhookEvent(account_id=tenant.account_id, subscription_id=subscription_id, delivery_id=n,
                               type="delivery.status_changed", sequence=1, payload=json.dumps({"n": n}),
                               state="pending", retry_window_start=utcnow()) for n in range(count)]
        session.add_all(events)
        session.flush()
        return [e.id for e in events]


def test_the_bound_per_subscription_holds_when_two_senders_lease_at_once(hooks_app):
    import threading

    from tracker.db import repository

    app = hooks_app(webhook_concurrency=2)
    tenant = make_tenant(app, "acme", ["*"])
    subscription = subscribe(app, tenant, "http://127.0.0.1:9/hook")
    queue_events(app, tenant, subscription["id"], 6)
    services, settings = app.extensions["tracker"], app.extensions["tracker"].webhook_settings
    later = utcnow() + settings.lease

    def lease(session, limit):
        return repository.lease_webhook_events(session, utcnow(), later, per_subscription=2, limit=limit)

    second: dict = {}

    def second_sender():
        with services.db.transaction() as session:
            second["pid"] = session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()
            second["leased"] = lease(session, 100)  # a sweep of everything due

    with services.db.transaction() as first_session:
        first = lease(first_session, 1)  # a slot passing to its subscriber's next event, not yet committed
        thread = threading.Thread(target=second_sender)
        thread.start()
        with services.db.session() as watcher:  # until the second sender is done or waits for the first
            while thread.is_alive() and not watcher.connection().exec_driver_sql(
                    "SELECT 1 FROM pg_stat_activity WHERE pid = %(pid)s AND wait_event_type = 'Lock'",
                    {"pid": second.get("pid", 0)}).first():
                thread.join(0.01)
                watcher.rollback()
    thread.join()
    assert len(first) == 1
    assert len(second["leased"]) == 1  # the one slot left, not two


def test_a_sender_whose_lease_ran_out_leaves_the_event_to_the_next(hooks_app):
    from tracker.db import repository

    app = hooks_app()
    tenant = make_tenant(app, "acme", ["*"])
    services, settings = app.extensions["tracker"], app.extensions["tracker"].webhook_settings
    with receiving() as receiver:
        subscription = subscribe(app, tenant, receiver.url)
        [event_id] = queue_events(app, tenant, subscription["id"], 1)
        assert sender.lease(services, settings) == [event_id]
        with services.db.transaction() as session:  # the task waited in the queue past its lease
            session.execute(update(WebhookEvent).values(leased_until=utcnow() - timedelta(seconds=1)))
        assert sender.deliver(services, event_id, settings) == "skipped"
        assert receiver.requests == []

        taken_over = utcnow() + timedelta(hours=1)

        def another_sender_leases_it_meanwhile(request):
            with services.db.transaction() as session:
                session.execute(update(WebhookEvent).values(leased_until=taken_over))

        receiver.on_request = another_sender_leases_it_meanwhile
        receiver.statuses = [500]
        assert sender.lease(services, settings) == [event_id]  # due again: its lease expired
        sender.deliver(services, event_id, settings)
    with services.db.session() as session:
        event = repository.webhook_event(session, event_id)
        attempts = list(session.scalars(select(WebhookAttempt)))
    assert (event.state, event.leased_until, event.next_attempt_at) == ("sending", taken_over, None)
    assert [a.status_code for a in attempts] == [500]  # logged, but the lease holder decides what happens next


def test_the_last_retry_falls_at_the_end_of_the_window_then_the_event_is_parked(hooks_app, pki):
    app = hooks_app(webhook_max_age_hours=24)
    tenant = make_tenant(app, "acme", ["*"])
    services = app.extensions["tracker"]
    with receiving(statuses=(503,)) as receiver:
        subscription = subscribe(app, tenant, receiver.url)
        [event_id] = queue_events(app, tenant, subscription["id"], 1)
        window_start = utcnow() - timedelta(hours=23, minutes=50)
        with services.db.transaction() as session:  # ten failures in; the next delay is at least 30 min
            session.execute(update(WebhookEvent).values(attempts=10, retry_window_start=window_start))
        send(app)
        with services.db.session() as session:
            event = session.get(WebhookEvent, event_id)
        assert (event.state, event.next_attempt_at) == ("pending", window_start + timedelta(hours=24))
        with services.db.transaction() as session:  # the clock moves 10 minutes on, to the window's end
            session.execute(update(WebhookEvent).values(retry_window_start=window_start - timedelta(minutes=10),
                                                        next_attempt_at=utcnow()))
        send(app)
    with services.db.session() as session:
        event = session.get(WebhookEvent, event_id)
    assert (event.state, event.attempts, event.last_status) == ("parked", 12, 503)
    assert len(receiver.requests) == 2


def test_the_cli_manages_subscriptions_shows_the_log_and_replays_parked_events(hooks_app, pki, pg_url):
    from click.testing import CliRunner

    from tracker.cli.main import main

    app = hooks_app()
    tenant = make_tenant(app, "acme", ["*"])
    env = {"TRACKER_DATABASE_URL": pg_url, "TRACKER_BROKER_URL": "", "TRACKER_WEBHOOKS_ALLOW_HTTP": "1",
           "TRACKER_WEBHOOKS_ALLOWED_NETWORKS": "127.0.0.0/8:*"}

    def cli(*args, expect=0, **extra_env):
        result = CliRunner().invoke(main, ["webhooks", *args], env={**env, **extra_env})
        assert result.exit_code == expect, result.output
        return result.output

    def listed():
        return [(s["url"], s["statuses"], s["state"]) for s in json.loads(cli("list", "--account", "acme", "--json"))]

    with receiving(statuses=(410,)) as receiver:
        refused = cli("create", "--account", "acme", "--url", receiver.url, expect=1,
                      TRACKER_WEBHOOKS_ALLOW_HTTP="", TRACKER_WEBHOOKS_ALLOWED_NETWORKS="")
        assert "url refused" in refused and "https" in refused
        created = cli("create", "--account", "acme", "--url", receiver.url, "--status", "SENT")
        subscription_id = int(re.search(r"subscription (\d+)", created).group(1))
        secret = re.search(r"secret: (\S+)", created).group(1)
        assert listed() == [(receiver.url, ["SENT"], "active")]
        cli("update", str(subscription_id), "--all-statuses")
        assert listed() == [(receiver.url, [], "active")]

        receiver.statuses = [200]
        assert "test event queued" in cli("test", str(subscription_id))
        send(app)
        [test_event] = receiver.requests
        assert test_event["json"]["type"] == "webhook.test"
        assert signing.verify(secret, test_event["body"], test_event["headers"], int(time.time()))

        receiver.statuses = [410]  # "gone": not retried, parked at once
        change_statuses(app, tenant, pki, for_message("event/send.json", "m1", ["r@example.com"]))
        send(app)
        parked = cli("events", str(subscription_id), "--state", "parked", "--attempts")
        assert "delivery.status_changed" in parked and "last: HTTP 410" in parked and "status 410" in parked
        assert "webhook.test" not in parked

        receiver.statuses = [200]
        assert "replayed 1 parked webhook events" in cli("replay", "--subscription", str(subscription_id))
        send(app)
        assert [r["json"]["type"] for r in receiver.requests] == [
            "webhook.test", "delivery.status_changed", "delivery.status_changed"]  # parked once, then delivered
        assert "parked" not in cli("events", str(subscription_id))

        cli("update", str(subscription_id), "--disable")
        assert "disabled" in cli("list", "--account", "acme")
        cli("update", str(subscription_id), "--enable")
        assert "active" in cli("list", "--account", "acme")
        cli("delete", str(subscription_id))
        assert listed() == []


def test_the_delivery_log_shows_every_attempt_of_an_event(hooks_app, pki):
    app = hooks_app()
    tenant = make_tenant(app, "acme", ["*"])
    with receiving(statuses=(503, 200)) as receiver:
        subscription = subscribe(app, tenant, receiver.url)
        before = app.test_client().get("/metrics").get_data(as_text=True)
        change_statuses(app, tenant, pki, for_message("event/send.json", "m1", ["r@example.com"]))
        send(app)
        make_due(app)
        send(app)
    client = app.test_client()
    [logged] = client.get(f"/api/v1/webhooks/{subscription['id']}/events", headers=tenant.auth).json["data"]
    assert (logged["state"], logged["attempts"], logged["last_status"]) == ("delivered", 2, 200)
    assert [(a["status_code"], a["error"]) for a in logged["attempts_log"]] == [(503, None), (200, None)]
    assert all(a["latency_ms"] >= 0 and a["attempted_at"] for a in logged["attempts_log"])
    other = make_tenant(app, "other", ["*"])
    assert client.get(f"/api/v1/webhooks/{subscription['id']}/events", headers=other.auth).status_code == 404

    after = client.get("/metrics").get_data(as_text=True)
    for outcome in ("retry", "delivered"):
        name = f'tracker_webhook_deliveries_total{{outcome="{outcome}"}}'
        assert _sample(after, name) == _sample(before, name) + 1


def test_the_delivery_log_pages_with_limit_and_cursor_past_any_size(hooks_app):
    """The issue's finding 6: the log stopped at a fixed number of events. Following next_cursor
    visits every event once, oldest first, with or without a state filter."""
    app = hooks_app()
    tenant = make_tenant(app, "acme", ["*"])
    subscription = subscribe(app, tenant, "http://127.0.0.1:9/hook")
    ids = queue_events(app, tenant, subscription["id"], 450)
    with app.extensions["tracker"].db.transaction() as session:  # every third one parked
        session.execute(update(WebhookEvent).where(WebhookEvent.id.in_(ids[::3])).values(state="parked"))
    client, path = app.test_client(), f"/api/v1/webhooks/{subscription['id']}/events"

    def walk(**query) -> tuple[list[int], list[int]]:
        seen, sizes, cursor = [], [], None
        while True:
            page = client.get(path, query_string={**query, **({"cursor": cursor} if cursor else {})},
                              headers=tenant.auth)
            assert page.status_code == 200, page.json
            seen += [event["id"] for event in page.json["data"]]
            sizes.append(len(page.json["data"]))
            cursor = page.json["next_cursor"]
            if cursor is None:
                return seen, sizes

    assert walk() == (ids, [100, 100, 100, 100, 50])  # the default page size
    assert walk(limit=200) == (ids, [200, 200, 50])
    assert walk(limit=1000) == (ids, [450])
    assert walk(state="parked", limit=70) == (ids[::3], [70, 70, 10])

    for query, fragment in (({"limit": 1001}, "limit"), ({"limit": 0}, "limit"), ({"cursor": "not-ours"}, "cursor"),
                            ({"page": 2}, "page")):
        refused = client.get(path, query_string=query, headers=tenant.auth)
        assert refused.status_code == 400 and refused.json["error"] == "invalid_request"
        assert fragment in refused.json["detail"]

    documented = client.get("/api/v1/openapi.json").json["paths"]["/api/v1/webhooks/{subscription_id}/events"]["get"]
    assert {"limit", "cursor", "state"} <= {parameter["name"] for parameter in documented["parameters"]}
    page = documented["responses"]["200"]["content"]["application/json"]["schema"]["properties"]
    assert set(page) == {"data", "next_cursor"}


def _sample(text: str, name: str) -> float:
    return next((float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + " ")), 0.0)


def test_deleting_a_subscription_while_its_event_is_being_sent_loses_nothing_else(hooks_app):
    app = hooks_app()
    tenant = make_tenant(app, "acme", ["*"])
    services, settings = app.extensions["tracker"], app.extensions["tracker"].webhook_settings
    with receiving() as receiver:
        subscription = subscribe(app, tenant, receiver.url)
        [event_id] = queue_events(app, tenant, subscription["id"], 1)

        def owner_deletes_it_meanwhile(request):
            assert app.test_client().delete(f"/api/v1/webhooks/{subscription['id']}",
                                            headers=tenant.auth).status_code == 204

        receiver.on_request = owner_deletes_it_meanwhile
        [leased] = sender.lease(services, settings)
        assert sender.deliver_and_continue(services, leased, settings) == 1  # no error: nothing left to record
    with services.db.session() as session:
        assert list(session.scalars(select(WebhookEvent))) == []


def test_a_test_event_for_a_disabled_subscription_is_refused_not_left_unsent(hooks_app, pg_url):
    """A disabled subscription is sent nothing: answering 202 "queued" promised a request that never came."""
    from click.testing import CliRunner

    from tracker.cli.main import main

    app = hooks_app()
    tenant = make_tenant(app, "acme", ["*"])
    client = app.test_client()
    with receiving() as receiver:
        created = subscribe(app, tenant, receiver.url, active=False)
        refused = client.post(f"/api/v1/webhooks/{created['id']}/test", headers=tenant.auth)
        assert refused.status_code == 409 and "active" in refused.json["detail"]
        cli = CliRunner().invoke(main, ["webhooks", "test", str(created["id"])],
                                 env={"TRACKER_DATABASE_URL": pg_url, "TRACKER_BROKER_URL": ""})
        assert cli.exit_code == 1 and "disabled" in cli.output
        client.patch(f"/api/v1/webhooks/{created['id']}", json={"active": True}, headers=tenant.auth)
        send(app)
        assert receiver.requests == []  # nothing was queued meanwhile
        assert client.post(f"/api/v1/webhooks/{created['id']}/test", headers=tenant.auth).status_code == 202
        send(app)
    assert [r["json"]["type"] for r in receiver.requests] == ["webhook.test"]


def test_a_replay_naming_more_parked_events_than_one_request_takes_is_a_400(hooks_app):
    app = hooks_app()
    tenant = make_tenant(app, "acme", ["*"])
    with receiving() as receiver:
        subscription = subscribe(app, tenant, receiver.url)
    from tracker.db import repository
    from tracker.db.models import Account

    with app.extensions["tracker"].db.transaction() as session:
        operator = repository.create_api_key(session, session.get(Account, tenant.account_id), role="operator")
    client, auth = app.test_client(), {"Authorization": f"Bearer {operator}"}
    route = f"/api/v1/admin/webhooks/{subscription['id']}/replay"

    refused = client.post(route, json={"ids": list(range(1, 1002))}, headers=auth)
    assert refused.status_code == 400 and "ids" in json.dumps(refused.json)
    assert client.post(route, json={"ids": list(range(1, 1001))}, headers=auth).json == {"replayed": []}
