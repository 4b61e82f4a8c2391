"""Rotating a subscription's signing secret without losing its events or failing a request.

Each received request is checked with the README's own recipe (what an application pastes),
never with the tracker's signing code.
"""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import update

from tests.integration.test_webhooks import change_statuses, readme_recipe, send, subscribe
from tests.support.harness import make_tenant
from tests.support.receiver import receiving
from tests.support.ses_events import bounce, for_message
from tests.support.lock_waits import until_a_session_waits_on_a_lock
from tracker.db.models import WebhookEvent, WebhookSubscription, utcnow


@pytest.fixture
def hooks_app(make_app):
    """The test receiver listens on loopback, over plain http."""
    def build(**overrides):
        return make_app(webhook_allow_http=True, webhook_allowed_networks="127.0.0.0/8:*", **overrides)
    return build


def recipe():
    namespace: dict = {}
    exec(readme_recipe(), namespace)
    return namespace["verify"]


def verifies(secret: str, request: dict) -> bool:
    headers = request["headers"]
    return recipe()(secret, request["body"], headers["X-Tracker-Timestamp"], headers["X-Tracker-Signature"])


def test_a_rotated_secret_signs_at_once_and_the_old_one_too_until_its_window_ends(hooks_app, pki):
    app = hooks_app(webhook_max_age_hours=0)  # a refused request is parked at once: visible below
    tenant = make_tenant(app, "acme", ["*"])
    other = make_tenant(app, "other", ["*"])
    client = app.test_client()
    with receiving(statuses=(500,)) as receiver:
        created = subscribe(app, tenant, receiver.url)
        path = f"/api/v1/webhooks/{created['id']}/rotate-secret"
        change_statuses(app, tenant, pki, for_message("event/send.json", "m1", ["r@example.com"]))
        send(app)  # parked: it must survive the rotation and be replayable

        assert client.post(path, headers=other.auth).status_code == 404  # another account's subscription
        rotated = client.post(path, headers=tenant.auth)
        assert rotated.status_code == 200, rotated.json
        new = rotated.json["secret"]
        assert new.startswith("whsec_") and new != created["secret"]
        assert rotated.json["id"] == created["id"] and rotated.json["previous_secret_expires_at"]
        shown = client.get(f"/api/v1/webhooks/{created['id']}", headers=tenant.auth).json
        assert "secret" not in shown and shown["previous_secret_expires_at"] == rotated.json[
            "previous_secret_expires_at"]

        receiver.statuses = [200]
        change_statuses(app, tenant, pki, bounce("m1", "r@example.com", "Permanent", "fb1", "2026-11-20T10:00:00.000Z"))
        send(app)
        [during] = receiver.requests[1:]
        # Both secrets verify while the old one's window lasts: receivers switch when they like.
        assert verifies(new, during) and verifies(created["secret"], during)

        with app.extensions["tracker"].db.transaction() as session:  # the window ends
            session.execute(update(WebhookSubscription).values(
                previous_secret_expires_at=utcnow() - timedelta(seconds=1)))
        assert client.post(f"/api/v1/webhooks/{created['id']}/test", headers=tenant.auth).status_code == 202
        send(app)
        [after] = receiver.requests[2:]
        assert verifies(new, after) and not verifies(created["secret"], after)

        # The parked event is still there and goes out signed with the new secret.
        with app.extensions["tracker"].db.transaction() as session:
            session.execute(update(WebhookEvent).where(WebhookEvent.state == "parked").values(state="pending"))
        send(app)
        [replayed] = receiver.requests[3:]
        assert replayed["json"]["delivery"]["status"] == "SENT" and verifies(new, replayed)


def test_rotation_can_retire_the_old_secret_at_once_and_refuses_a_window_out_of_range(hooks_app):
    app = hooks_app()
    tenant = make_tenant(app, "acme", ["*"])
    client = app.test_client()
    with receiving() as receiver:
        created = subscribe(app, tenant, receiver.url)
        path = f"/api/v1/webhooks/{created['id']}/rotate-secret"
        for bad in ({"previous_secret_hours": -1}, {"previous_secret_hours": 73}, {"previous_secret_hours": "x"},
                    {"hours": 1}):
            refused = client.post(path, json=bad, headers=tenant.auth)
            assert refused.status_code == 400 and refused.json["error"] == "invalid_request", bad
        rotated = client.post(path, json={"previous_secret_hours": 0}, headers=tenant.auth).json
        assert rotated["previous_secret_expires_at"] is None
        client.post(f"/api/v1/webhooks/{created['id']}/test", headers=tenant.auth)
        send(app)
    [request] = receiver.requests
    assert verifies(rotated["secret"], request) and not verifies(created["secret"], request)
    assert request["headers"]["X-Tracker-Signature"].count("v1=") == 1


def test_the_cli_rotates_a_secret(hooks_app, pg_url):
    from click.testing import CliRunner

    from tracker.cli.main import main

    app = hooks_app()
    tenant = make_tenant(app, "acme", ["*"])
    env = {"TRACKER_DATABASE_URL": pg_url, "TRACKER_BROKER_URL": "", "TRACKER_WEBHOOKS_ALLOW_HTTP": "1",
           "TRACKER_WEBHOOKS_ALLOWED_NETWORKS": "127.0.0.0/8:*"}
    with receiving() as receiver:
        created = subscribe(app, tenant, receiver.url)
        result = CliRunner().invoke(main, ["webhooks", "rotate-secret", str(created["id"]),
                                           "--previous-secret-hours", "2"], env=env)
        assert result.exit_code == 0, result.output
        new = re.search(r"secret: (\S+)", result.output).group(1)
        assert "previous secret also signs until" in result.output
        app.test_client().post(f"/api/v1/webhooks/{created['id']}/test", headers=tenant.auth)
        send(app)
    [request] = receiver.requests
    assert verifies(new, request) and verifies(created["secret"], request)
    missing = CliRunner().invoke(main, ["webhooks", "rotate-secret", "999999"], env=env)
    assert missing.exit_code == 1 and "no webhook subscription 999999" in missing.output



def test_two_rotations_at_once_keep_the_secret_each_answered(hooks_app):
    """Two rotations of one subscription at once (two operators, or a retried request): each answers a new
    secret, and the one answered first, which its caller may already have deployed, still signs as the
    replaced secret after the second, as when the two come one after the other."""
    import threading

    from tracker.db import repository
    from tracker.outbound import signing

    app = hooks_app()
    tenant = make_tenant(app, "acme", ["*"])
    with receiving() as receiver:
        created = subscribe(app, tenant, receiver.url)
    db = app.extensions["tracker"].db
    first_secret, second_secret = signing.new_secret(), signing.new_secret()
    loaded = threading.Event()

    def second_rotation():
        with db.transaction() as session:
            subscription = session.get(WebhookSubscription, created["id"])
            loaded.set()
            repository.rotate_subscription_secret(subscription, second_secret, utcnow() + timedelta(hours=1),
                                                  utcnow())

    with db.transaction() as first:
        repository.rotate_subscription_secret(first.get(WebhookSubscription, created["id"]), first_secret,
                                              utcnow() + timedelta(hours=1), utcnow())
        first.flush()
        thread = threading.Thread(target=second_rotation)
        thread.start()
        assert loaded.wait(30)  # the second read the subscription before the first committed
        until_a_session_waits_on_a_lock(db, thread)
    thread.join(30)

    with db.session() as session:
        subscription = session.get(WebhookSubscription, created["id"])
        assert (subscription.secret, subscription.previous_secret) == (second_secret, first_secret)
