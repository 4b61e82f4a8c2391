"""A receiver's cached source never outlives a change made elsewhere (the CLI, the API, another process)."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from tests.support.harness import make_tenant
from tests.support.sns_signing import DEFAULT_TOPIC_ARN, notification
from tests.support.webhooks.catalog import PROVIDERS
from tracker.db import repository
from tracker.db.engine import Database
from tracker.db.models import InboxEvent, Source

OTHER_TOPIC = "arn:aws:sns:us-east-1:123456789012:other-events"


@pytest.fixture
def app(make_app):
    return make_app(source_cache_seconds=3600)  # the receiver's copy would otherwise live for an hour


def inbox_count(app) -> int:
    with app.extensions["tracker"].db.session() as session:
        return session.scalar(select(func.count()).select_from(InboxEvent))


def elsewhere(app):
    """A session of another process (its own engine), as the CLI or another web worker has."""
    return Database(app.extensions["tracker"].config.database_url)


def bounce(message_id: str) -> dict:
    return {"notificationType": "Bounce",
            "bounce": {"bounceType": "Permanent", "bounceSubType": "General", "timestamp": "2026-11-22T12:00:01.000Z",
                       "bouncedRecipients": [{"emailAddress": f"{message_id}@example.com"}]},
            "mail": {"messageId": message_id, "timestamp": "2026-11-22T12:00:00.000Z", "source": "s@example.com",
                     "destination": [f"{message_id}@example.com"]}}


@pytest.mark.parametrize("provider", PROVIDERS, ids=lambda p: p.name)
def test_a_rotated_secret_refuses_the_old_one_at_once(app, provider):
    with app.extensions["tracker"].db.transaction() as session:
        account = repository.create_account(session, "acme")
        source = repository.create_source(session, account, provider.name, secret=provider.secret)
        hook, source_id = f"/hooks/{provider.name}/{source.token}", source.id
    client = app.test_client()
    body, headers = provider.signed(provider.fixture(provider.bounce_fixture))
    assert client.post(hook, data=body, headers=headers).status_code == 200  # the source is cached now
    stored = inbox_count(app)

    rotated = provider.wrong_secret()
    other = elsewhere(app)
    with other.transaction() as session:
        repository.set_source_secret(session, session.get(Source, source_id), rotated)
    other.dispose()

    body, headers = provider.signed(provider.fixture(provider.bounce_fixture))
    refused = client.post(hook, data=body, headers=headers)
    assert refused.status_code == 403, refused.json
    assert inbox_count(app) == stored
    body, headers = provider.signed(provider.fixture(provider.bounce_fixture), rotated)
    accepted = client.post(hook, data=body, headers=headers)
    assert accepted.status_code == 200, accepted.json


def test_a_topic_allowed_elsewhere_is_accepted_at_once(app, pki):
    tenant = make_tenant(app, "acme", [DEFAULT_TOPIC_ARN])
    client = app.test_client()
    first = client.post(tenant.hook, data=json.dumps(pki.sign(notification(bounce("m-1")))))
    assert first.status_code == 200, first.json  # the source, allowing one topic, is cached now

    other = elsewhere(app)
    with other.transaction() as session:
        source = repository.source_by_token(session, tenant.token)
        repository.allow_topic(session, source.id, OTHER_TOPIC)
    other.dispose()

    response = client.post(tenant.hook, data=json.dumps(pki.sign(notification(bounce("m-2"), topic_arn=OTHER_TOPIC))))
    assert response.status_code == 200, response.json
    assert response.json["status"] == "stored"
    assert inbox_count(app) == 2


def test_a_token_changed_elsewhere_stops_working_at_once(app, pki):
    tenant = make_tenant(app, "acme", [DEFAULT_TOPIC_ARN])
    client = app.test_client()
    assert client.post(tenant.hook, data=json.dumps(pki.sign(notification(bounce("m-1"))))).status_code == 200

    other = elsewhere(app)
    with other.transaction() as session:
        repository.source_by_token(session, tenant.token).token = "rotated-token"
    other.dispose()

    response = client.post(tenant.hook, data=json.dumps(pki.sign(notification(bounce("m-2")))))
    assert response.status_code == 404, response.json
    assert inbox_count(app) == 1
    moved = client.post(tenant.hook.replace(tenant.token, "rotated-token"),
                        data=json.dumps(pki.sign(notification(bounce("m-3")))))
    assert moved.status_code == 200, moved.json
