"""The SQS poller never dies of a message and outlives the database: poison of every kind,
a database away at start and midway (a private PostgreSQL cluster, never the machine's own)."""
from __future__ import annotations

import json
import signal
import threading

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from tests.support import sqs as local_sqs
from tests.support.harness import RecordingWaker, drain, make_tenant
from tests.support.private_postgres import private_cluster
from tests.support.processes import poll, python, running, wait_for_log
from tests.support.sqs_poison import BOUNCE, poison, raw_bounce, unreadable
from tests.support.sns_signing import DEFAULT_TOPIC_ARN, notification
from tracker.db.models import Delivery, InboxEvent
from tracker.adapters.sqs_poller import (
    DUPLICATE,
    MAX_BACKOFF,
    REFUSED,
    RETRY_LATER,
    STORED,
    SqsPoller,
    next_backoff,
    sqs_client,
)

pytestmark = pytest.mark.integration

@pytest.fixture(scope="module")
def sqs_endpoint():
    with local_sqs.moto_sqs() as url:
        yield url


@pytest.fixture
def sqs(sqs_endpoint, monkeypatch):
    for name, value in local_sqs.AWS_ENV.items():
        monkeypatch.setenv(name, value)
    return local_sqs.client(sqs_endpoint)


def send(sqs, queue_url: str, body) -> None:
    sqs.send_message(QueueUrl=queue_url, MessageBody=body if isinstance(body, str) else json.dumps(body))


def inbox(app) -> list[InboxEvent]:
    with app.extensions["tracker"].db.session() as session:
        return list(session.scalars(select(InboxEvent).order_by(InboxEvent.id)))


def states(app) -> list[str] | None:
    """The inbox rows' states; None while the test's own connections still die with the outage."""
    try:
        return [row.state for row in inbox(app)]
    except OperationalError:
        return None


@pytest.fixture
def small_bodies_app(make_app):
    return make_app(max_body_bytes=64 * 1024)


def test_every_kind_of_poison_is_refused_deleted_and_logged_and_the_good_messages_go_through(
        small_bodies_app, pki, sqs, sqs_endpoint, caplog):
    app = small_bodies_app
    tenant = make_tenant(app, "acme", [DEFAULT_TOPIC_ARN])
    queue = local_sqs.create_queue(sqs)
    kinds, kept = poison(pki), unreadable()
    for body, _ in [*kinds.values(), *kept.values()]:
        send(sqs, queue, body)
    good = pki.sign(notification(BOUNCE))
    send(sqs, queue, good)
    send(sqs, queue, good)  # SNS delivered it twice
    poller = SqsPoller(app.extensions["tracker"], app.extensions["tracker"].sources.get(tenant.token), queue,
                       sqs_client(sqs_endpoint, None), wait_seconds=1)

    with caplog.at_level("WARNING", logger="tracker.adapters.sqs_poller"):
        assert poll(lambda: poller.poll_once() is not None and local_sqs.depth(sqs, queue) == 0, timeout=60)

    assert (poller.totals[REFUSED], poller.totals[STORED], poller.totals[DUPLICATE]) == (len(kinds), 1 + len(kept), 1)
    assert poller.totals[RETRY_LATER] == 0
    for name, (_, why) in kinds.items():
        assert why in caplog.text, name
    drain(app)
    rows = inbox(app)
    assert [row.state for row in rows if row.kind != "raw"] == ["processed"]
    failed = {row.body: row.error for row in rows if row.kind == "raw"}
    for name, (body, why) in kept.items():
        assert why in failed[body], name
    with app.extensions["tracker"].db.session() as session:
        [delivery] = session.scalars(select(Delivery))
    assert (delivery.status, delivery.events_count) == ("BOUNCED", 1)


def test_the_poller_looks_for_the_database_again_within_a_few_seconds():
    """It used to back off to 60 s, so it resumed up to a minute after the database came back."""
    waits, wait = [], 0.0
    for _ in range(20):
        wait = next_backoff(wait)
        waits.append(wait)
    assert waits[0] < 1 and max(waits) == MAX_BACKOFF <= 4.0


# --- a database that goes away: a private cluster of our own --------------------------------


@pytest.fixture(scope="module")
def cluster():
    with private_cluster("sqsfaults") as cluster:
        yield cluster


@pytest.fixture
def private_app(cluster, pki):
    from tracker import create_app
    from tracker.adapters.sns_certificates import DirectoryCertificateStore
    from tracker.config import Config

    cluster.start()  # whatever the last test left
    app = create_app(Config(database_url=cluster.create_database(), sns_cert_dir=str(pki.directory)),
                     certificates=DirectoryCertificateStore(pki.directory), waker=RecordingWaker())
    yield app
    app.extensions["tracker"].db.dispose()


def poller_env(app, pki, sqs_endpoint) -> dict[str, str]:
    return {**local_sqs.AWS_ENV, "TRACKER_DATABASE_URL": app.extensions["tracker"].db.url,
            "TRACKER_SNS_CERT_DIR": str(pki.directory), "TRACKER_BROKER_URL": "",
            "TRACKER_AWS_ENDPOINT_URL": sqs_endpoint}


def test_a_poller_started_while_the_database_is_down_waits_and_stores_once_it_is_back(
        private_app, cluster, pki, sqs, sqs_endpoint, tmp_path):
    """It used to exit at once: `Error: database unavailable`, rc 1."""
    tenant = make_tenant(private_app, "acme", [DEFAULT_TOPIC_ARN])
    queue = local_sqs.create_queue(sqs, visibility_timeout=5)
    send(sqs, queue, pki.sign(notification(BOUNCE)))
    cluster.stop()
    log = tmp_path / "poller.log"
    command = python("-m", "tracker.cli.sqs", "--source", tenant.token, "--queue-url", queue, "--wait-seconds", "1")
    with running(command, poller_env(private_app, pki, sqs_endpoint), log) as process:
        wait_for_log(log, "does not answer", process)
        assert poll(lambda: log.read_text().count("does not answer") >= 3 or process.poll() is not None)
        assert process.poll() is None, log.read_text()
        assert local_sqs.depth(sqs, queue) == 1  # nothing received meanwhile

        cluster.start()
        assert poll(lambda: local_sqs.depth(sqs, queue) == 0 and states(private_app) == ["processed"],
                    timeout=60), log.read_text()
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, log.read_text()


def test_messages_received_while_the_database_was_away_are_stored_as_soon_as_it_is_back(
        private_app, cluster, pki, sqs, sqs_endpoint):
    """Not after their visibility timeout (here a minute): the poller shows them to SQS again."""
    services = private_app.extensions["tracker"]
    tenant = make_tenant(private_app, "acme", [DEFAULT_TOPIC_ARN])
    source = services.sources.get(tenant.token)
    queue = local_sqs.create_queue(sqs, visibility_timeout=60)
    for n in range(3):
        send(sqs, queue, raw_bounce(f"held-{n}"))
    poller = SqsPoller(services, source, queue, sqs_client(sqs_endpoint, None), wait_seconds=1)
    cluster.stop()
    assert poller.poll_once()[RETRY_LATER] == 3
    assert local_sqs.depth(sqs, queue) == 3

    cluster.start()
    thread = threading.Thread(target=poller.run)
    thread.start()
    try:
        assert poll(lambda: local_sqs.depth(sqs, queue) == 0, timeout=30), "the held messages waited for SQS"
    finally:
        poller.stop()
        thread.join(30)
    assert len(inbox(private_app)) == 3
