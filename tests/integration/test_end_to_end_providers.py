"""Each webhook provider through the production processes: gunicorn, Redis, a Celery worker."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tests.support.processes import find_deliveries, http, poll
from tests.support.webhooks.catalog import PROVIDERS
from tracker import repository
from tracker.providers import registry

pytestmark = pytest.mark.integration


def test_every_provider_bounce_reaches_the_api_through_the_worker(stack, app):
    with app.extensions["tracker"].db.transaction() as session:
        account = repository.create_account(session, "acme")
        key = repository.create_api_key(session, account)
        hooks = {p.name: repository.create_source(session, account, p.name, secret=p.secret).token
                 for p in PROVIDERS}

    expected = {}
    for provider in PROVIDERS:
        body, headers = provider.signed(provider.fixture(provider.bounce_fixture))
        status, answer = http("POST", f"{stack}/hooks/{provider.name}/{hooks[provider.name]}", body, headers)
        assert status == 200, (provider.name, answer)
        [bounce] = [e for e in registry.parse_webhook(provider.name, body, provider.content_type,
                                                      datetime.now(timezone.utc)) if e.type.value == "bounced"]
        expected[provider.name] = (bounce.message_id, bounce.recipient)

    for name, (message_id, recipient) in expected.items():
        found = poll(lambda: [d for d in find_deliveries(stack, key, message_id=message_id)
                              if d["status"] == "BOUNCED"])
        assert found and found[0]["recipient"] == recipient and found[0]["provider"] == name, name
