"""After a database restart a process fails one request, not one per connection its pool kept idle.

Core, on finding a connection lost, invalidates the pool's other connections of that generation
too (they died with the server), so the next checkout connects anew. The paths that run their
statements on the driver and handle its errors themselves must do the same: Infobip's report
pull (tracker.db.driver_reads.within) and the receivers' two-statement insert of a webhook with a
one-time token (tracker.db.raw). A pool holds several idle connections after requests ran at once
(gthread workers, `tracker run`'s threads); here they are checked out together, as such a burst does.
"""
from __future__ import annotations

import contextlib

import pytest
import sqlalchemy as sa

from tests.support import api_styles
from tests.support.harness import make_tenant
from tests.support.sns_signing import DEFAULT_TOPIC_ARN
from tests.support.webhooks.catalog import PROVIDERS
from tracker.db import repository

pytestmark = pytest.mark.integration

IDLE = 4  # connections the pool keeps idle (it keeps 5)


def restart_with_idle_connections(app, pg_url: str) -> None:
    """Leave IDLE connections idle in the app's pool, then end every session of the app's database,
    as a restart of the server does."""
    engine = app.extensions["tracker"].db.engine
    with contextlib.ExitStack() as burst:
        for _ in range(IDLE):
            burst.enter_context(engine.connect()).execute(sa.select(1))
    assert engine.pool.checkedin() >= IDLE
    admin = sa.create_engine(pg_url)
    with admin.begin() as connection:
        ended = connection.execute(sa.text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
    admin.dispose()
    assert ended >= IDLE


def test_infobips_report_pulls_after_a_restart_fail_once_then_answer(make_app, redis_url, pg_url):
    app = make_app(broker_url=redis_url)  # keys cached, as in production: the pull's is the first statement
    tenant = make_tenant(app, "acme", [DEFAULT_TOPIC_ARN])
    client = app.test_client()

    def pull():
        return client.get("/email/1/reports", headers=api_styles.app_key(tenant.key))

    assert pull().status_code == 200
    restart_with_idle_connections(app, pg_url)

    codes = [pull().status_code for _ in range(IDLE + 1)]

    assert codes[0] in (200, 503)  # the connection found dead fails its request, as on Core's path
    assert codes[1:] == [200] * IDLE, codes


@pytest.mark.parametrize("provider", [p for p in PROVIDERS if p.one_time_token], ids=lambda p: p.name)
def test_webhooks_with_a_one_time_token_after_a_restart_fail_once_then_are_stored(app, pg_url, provider):
    with app.extensions["tracker"].db.transaction() as session:
        account = repository.create_account(session, "acme")
        token = repository.create_source(session, account, provider.name, secret=provider.secret).token
    client = app.test_client()

    def push():  # each signed anew: a token of its own, as the provider's every POST has
        body, headers = provider.signed(provider.fixture(provider.bounce_fixture))
        return client.post(f"/hooks/{provider.name}/{token}", data=body, headers=headers)

    assert push().status_code == 200
    restart_with_idle_connections(app, pg_url)

    codes = [push().status_code for _ in range(IDLE + 1)]

    assert codes[0] in (200, 503)  # the sender retries a 503
    assert codes[1:] == [200] * IDLE, codes
