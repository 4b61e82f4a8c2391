"""Each webhook provider through the production processes: gunicorn, Redis, a Celery worker."""
from __future__ import annotations

from datetime import datetime, UTC

import pytest

from tests.support.processes import find_deliveries, http, poll
from tests.support.webhooks.catalog import PROVIDERS
from tracker.db import repository
from tracker.providers import registry

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("provider", PROVIDERS, ids=lambda p: p.name)
def test_a_signed_bounce_reaches_the_api_through_the_worker(stack, app, provider):
    with app.extensions["tracker"].db.transaction() as session:
        account = repository.create_account(session, "acme")
        key = repository.create_api_key(session, account)
        token = repository.create_source(session, account, provider.name, secret=provider.secret).token
    body, headers = provider.signed(provider.fixture(provider.bounce_fixture))

    status, answer = http("POST", f"{stack}/hooks/{provider.name}/{token}", body, headers)

    assert status == 200, answer
    [bounce] = [e for e in registry.parse_webhook(provider.name, body, provider.content_type,
                                                  datetime.now(UTC)) if e.type.value == "bounced"]
    found = poll(lambda: [d for d in find_deliveries(stack, key, message_id=bounce.message_id)
                          if d["status"] == "BOUNCED"])
    assert found, f"{provider.name}: the bounce never reached the API"
    assert (found[0]["recipient"], found[0]["provider"]) == (bounce.recipient, provider.name)
    forged, forged_headers = provider.signed(body, provider.wrong_secret())
    assert http("POST", f"{stack}/hooks/{provider.name}/{token}", forged, forged_headers)[0] == 403
