"""Shared fixtures: a throwaway PostgreSQL database, Redis, the test PKI, app factories.

The database and Redis are real (the machine's services); only AWS is faked: certificates
come from a directory the suite writes, SubscribeURL GETs go to a recording opener.
"""
from __future__ import annotations

import os

import pytest

from tests.support.database import throwaway_database
from tests.support.harness import RecordingOpener, RecordingWaker, make_tenant
from tests.support.sns_signing import SnsTestPki

def _redis_url() -> str:
    """The suite's Redis database; each pytest-xdist worker (gw0, gw1, ...) gets its own below it."""
    url = os.environ.get("TRACKER_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw"):
        base, _, number = url.rpartition("/")
        url = f"{base}/{int(number) - int(worker[2:])}"
    return url


REDIS_URL = _redis_url()
TABLES = ("delivery_stats", "reputation_states", "reputation_thresholds", "messages", "webhook_attempts",
          "webhook_events", "webhook_subscriptions", "operator_job_items", "operator_jobs", "suppression_removals",
          "suppressions", "replay_tokens", "delivery_events", "deliveries", "sns_subscriptions", "inbox_events",
          "api_keys", "sources", "accounts", "dashboard_signouts")


@pytest.fixture(scope="session")
def pki(tmp_path_factory) -> SnsTestPki:
    return SnsTestPki(tmp_path_factory.mktemp("sns-certs"))


@pytest.fixture(scope="session")
def pg_url() -> str:
    """A fresh database, migrated to head, dropped at the end of the session."""
    with throwaway_database("tracker_test") as url:
        yield url


@pytest.fixture
def pg_db(pg_url):
    """The test database, emptied after each test (other processes see committed rows)."""
    from tracker.db.engine import Database

    db = Database(pg_url)
    yield db
    with db.engine.begin() as connection:
        connection.exec_driver_sql(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
    db.dispose()


@pytest.fixture
def redis_url() -> str:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield REDIS_URL
    client.flushdb()


@pytest.fixture
def opener() -> RecordingOpener:
    return RecordingOpener(
        b'<ConfirmSubscriptionResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">'
        b"<ConfirmSubscriptionResult><SubscriptionArn>arn:aws:sns:us-east-1:123456789012:ses-events:"
        b"2bcfbf39-05c3-41de-beaa-fcfcc21c8f55</SubscriptionArn></ConfirmSubscriptionResult>"
        b"</ConfirmSubscriptionResponse>"
    )


@pytest.fixture
def make_app(pg_db, pki, opener):
    """An app on the test database whose worker is driven by the test (``drain``).

    Each app's connections (its pool and its kept connections) are closed when the test ends:
    left to the garbage collector, the apps of the tests before held theirs meanwhile, and three
    test processes at once reached PostgreSQL's max_connections (100) in a full run."""
    from tracker import create_app
    from tracker.adapters.sns_certificates import DirectoryCertificateStore
    from tracker.config import Config
    from tracker.adapters.sns_subscriptions import HttpSubscriptionConfirmer

    built = []

    def build(**overrides):
        config = Config(database_url=pg_db.url, sns_cert_dir=str(pki.directory), secret_key="test-secret-key",
                        **overrides)
        app = create_app(
            config,
            certificates=DirectoryCertificateStore(pki.directory),
            confirmer=HttpSubscriptionConfirmer(opener=opener),
            waker=RecordingWaker(),
        )
        built.append(app)
        return app

    yield build
    for app in built:
        app.extensions["tracker"].db.dispose()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def tenant(app):
    """An account with an API key and an SES source accepting the default test topic."""
    from tests.support.sns_signing import DEFAULT_TOPIC_ARN

    return make_tenant(app, "acme", [DEFAULT_TOPIC_ARN])


