"""The SQS intake on real PostgreSQL against a local SQS (moto on loopback, never AWS).

What a user relies on: every event in the queue ends up applied exactly once, whatever the
poller dies of and whenever; a message is deleted only once the inbox has it or it can
never be accepted; forgeries are deleted and stored nowhere.
"""
from __future__ import annotations

import json
import signal

import pytest
from sqlalchemy import select

from tests.support import sqs as local_sqs
from tests.support.harness import FIXTURES, RecordingWaker, drain
from tests.support.processes import ROOT, poll, python, running, wait_for_log
from tests.support.sns_signing import notification
from tests.support.sqs_poison import unreadable
from tracker.db import repository
from tracker.db.models import Delivery, InboxEvent
from tracker.adapters.sqs_poller import DUPLICATE, REFUSED, RETRY_LATER, STORED, SqsPoller, sqs_client

pytestmark = pytest.mark.integration

BOUNCE = (FIXTURES / "ses/notification/bounce-permanent.json").read_text()
RECIPIENT = "jane@example.com"


@pytest.fixture(scope="module")
def sqs_endpoint():
    with local_sqs.moto_sqs() as url:
        yield url


@pytest.fixture
def sqs(sqs_endpoint, monkeypatch):
    for name, value in local_sqs.AWS_ENV.items():
        monkeypatch.setenv(name, value)
    return local_sqs.client(sqs_endpoint)


@pytest.fixture
def queue(sqs) -> str:
    return local_sqs.create_queue(sqs)


@pytest.fixture
def poller_for(app, tenant, sqs_endpoint):
    """An in-process poller for ``queue_url``, built like the CLI builds it."""
    def build(queue_url: str, services=None) -> SqsPoller:
        services = services or app.extensions["tracker"]
        source = app.extensions["tracker"].sources.get(tenant.token)
        return SqsPoller(services, source, queue_url, sqs_client(sqs_endpoint, None), wait_seconds=1)

    return build


@pytest.fixture
def poller_env(pg_url, pki, sqs_endpoint) -> dict[str, str]:
    """The environment of a `tracker sqs-poll` process: no broker, so it also processes in-process."""
    return {**local_sqs.AWS_ENV, "TRACKER_DATABASE_URL": pg_url, "TRACKER_SNS_CERT_DIR": str(pki.directory),
            "TRACKER_BROKER_URL": "", "TRACKER_AWS_ENDPOINT_URL": sqs_endpoint}


def send(sqs, queue_url: str, body) -> None:
    sqs.send_message(QueueUrl=queue_url, MessageBody=body if isinstance(body, str) else json.dumps(body))


def poll_until_empty(poller: SqsPoller, sqs, queue_url: str) -> None:
    def one_batch_then_empty() -> bool:
        poller.poll_once()
        return local_sqs.depth(sqs, queue_url) == 0

    assert poll(one_batch_then_empty, timeout=30), f"{local_sqs.depth(sqs, queue_url)} message(s) still in the queue"


def inbox(app) -> list[InboxEvent]:
    with app.extensions["tracker"].db.session() as session:
        return list(session.scalars(select(InboxEvent).order_by(InboxEvent.id)))


def the_delivery(app) -> Delivery:
    with app.extensions["tracker"].db.session() as session:
        [delivery] = session.scalars(select(Delivery)).all()
        return delivery


def test_sns_enveloped_bounce_is_stored_applied_and_deleted(app, pki, sqs, queue, poller_for):
    send(sqs, queue, pki.sign(notification(BOUNCE), "2"))

    batch = poller_for(queue).poll_once()

    assert batch == {STORED: 1}
    assert local_sqs.depth(sqs, queue) == 0
    assert app.extensions["tracker"].waker.wakes == 1
    drain(app)
    delivery = the_delivery(app)
    assert (delivery.recipient, delivery.status, delivery.bounce_type) == (RECIPIENT, "BOUNCED", "PERMANENT")
    assert delivery.events_count == 1


def test_raw_delivery_ses_message_is_stored_and_applied(app, sqs, queue, poller_for):
    send(sqs, queue, BOUNCE)

    assert poller_for(queue).poll_once() == {STORED: 1}

    assert local_sqs.depth(sqs, queue) == 0
    [row] = inbox(app)
    assert row.body == BOUNCE
    drain(app)
    assert [row.state for row in inbox(app)] == ["processed"], inbox(app)[0].error
    assert (the_delivery(app).status, the_delivery(app).events_count) == ("BOUNCED", 1)


def test_the_same_sns_message_delivered_twice_is_stored_once(app, pki, sqs, queue, poller_for):
    envelope = pki.sign(notification(BOUNCE))
    send(sqs, queue, envelope)
    send(sqs, queue, envelope)
    poller = poller_for(queue)

    poll_until_empty(poller, sqs, queue)

    assert (poller.totals[STORED], poller.totals[DUPLICATE]) == (1, 1)
    assert len(inbox(app)) == 1
    drain(app)
    assert the_delivery(app).events_count == 1


def test_each_row_keeps_its_sqs_message_id_as_its_request_id_and_so_do_the_log_lines(app, pki, sqs, queue,
                                                                                    poller_for):
    import logging

    from tracker.adapters import logs

    enveloped = sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(pki.sign(notification(BOUNCE))))
    raw = sqs.send_message(QueueUrl=queue, MessageBody=BOUNCE)
    refused = sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(notification(BOUNCE)))  # unsigned
    seen: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = seen.append
    handler.addFilter(logs.ContextFilter())  # what the tracker's own handler adds to each line
    logging.getLogger("tracker.adapters.sqs_poller").addHandler(handler)
    try:
        poll_until_empty(poller_for(queue), sqs, queue)
    finally:
        logging.getLogger("tracker.adapters.sqs_poller").removeHandler(handler)

    assert sorted(row.request_id for row in inbox(app)) == sorted([enveloped["MessageId"], raw["MessageId"]])
    [warning] = [record for record in seen if record.levelno == logging.WARNING]
    assert "refused" in warning.getMessage() and warning.request_id == refused["MessageId"]


def _forged(pki):
    envelope = pki.sign(notification(BOUNCE))
    envelope["Message"] = envelope["Message"].replace("Permanent", "Transient")
    return envelope


@pytest.mark.parametrize("make_body, reason", [
    (_forged, "invalid_signature"),
    (lambda pki: pki.sign(notification(BOUNCE, topic_arn="arn:aws:sns:us-east-1:123456789012:other")),
     "topic_not_allowed"),
    (lambda pki: notification(BOUNCE), "invalid_signature"),  # unsigned envelope
], ids=["forged", "topic-not-allowed", "unsigned"])
def test_a_message_that_can_never_be_accepted_is_deleted_logged_and_stored_nowhere(
        app, pki, sqs, queue, poller_for, caplog, make_body, reason):
    send(sqs, queue, make_body(pki))

    with caplog.at_level("WARNING", logger="tracker.adapters.sqs_poller"):
        batch = poller_for(queue).poll_once()

    assert batch == {REFUSED: 1}
    assert local_sqs.depth(sqs, queue) == 0
    assert inbox(app) == []
    assert app.extensions["tracker"].waker.wakes == 0
    assert reason in caplog.text


@pytest.mark.parametrize("body, why", unreadable().values(), ids=unreadable().keys())
def test_a_raw_body_that_is_no_ses_event_is_kept_failed_for_replay_not_deleted_unseen(
        app, sqs, queue, poller_for, body, why):
    # A body without an envelope is vouched for by the queue's policy alone, as any raw
    # delivery is: stored, then failed by the worker with its reason, kept for replay (it
    # used to be deleted with a log line, when it was not JSON or not a JSON object).
    send(sqs, queue, body)

    assert poller_for(queue).poll_once() == {STORED: 1}

    assert local_sqs.depth(sqs, queue) == 0
    drain(app)
    [row] = inbox(app)
    assert (row.kind, row.state, row.body) == ("raw", "failed", body)
    assert why in row.error


def test_the_topic_validated_notice_through_raw_delivery_is_taken_without_a_warning(
        app, sqs, queue, poller_for, caplog):
    # With raw delivery on, SES's plain-text notice on adding an SNS event destination reaches
    # the queue as it is (not JSON): the same notice the HTTPS receiver takes in its envelope.
    send(sqs, queue, (FIXTURES / "ses/event/topic-validated.txt").read_text())

    with caplog.at_level("WARNING", logger="tracker.adapters.sqs_poller"):
        assert poller_for(queue).poll_once() == {STORED: 1}

    assert [record.getMessage() for record in caplog.records if record.name.startswith("tracker")] == []
    assert local_sqs.depth(sqs, queue) == 0
    drain(app)
    assert [row.state for row in inbox(app)] == ["processed"]
    with app.extensions["tracker"].db.session() as session:
        assert session.scalars(select(Delivery)).all() == []


def test_a_topic_allowed_while_the_poller_runs_is_stored_not_deleted_as_refused(app, pki, sqs, queue, poller_for):
    # The poller reads its source once, when it starts; `tracker ses connect` (or anyone) may
    # allow another topic on that source later, in another process. A refusal deletes the SQS
    # message, so deciding it on the allowlist as it was at start would lose the event: it is
    # re-decided on the source read afresh, as the HTTPS receiver does.
    poller = poller_for(queue)
    other = "arn:aws:sns:us-east-1:123456789012:other"
    with app.extensions["tracker"].db.transaction() as session:
        repository.allow_topic(session, poller.source.id, other)
    send(sqs, queue, pki.sign(notification(BOUNCE, topic_arn=other)))

    assert poller.poll_once() == {STORED: 1}
    assert local_sqs.depth(sqs, queue) == 0
    assert len(inbox(app)) == 1


def test_a_database_outage_leaves_the_message_in_the_queue_until_it_can_be_stored(
        app, pki, sqs, poller_for):
    from tracker import create_app
    from tracker.adapters.sns_certificates import DirectoryCertificateStore
    from tracker.config import Config

    queue = local_sqs.create_queue(sqs, visibility_timeout=1)
    send(sqs, queue, pki.sign(notification(BOUNCE)))
    down = create_app(Config(database_url="postgresql+psycopg2://postgres@127.0.0.1:1/none"),
                      certificates=DirectoryCertificateStore(pki.directory), waker=RecordingWaker())

    assert poller_for(queue, services=down.extensions["tracker"]).poll_once() == {RETRY_LATER: 1}
    assert local_sqs.depth(sqs, queue) == 1

    # The database is back: SQS shows the message again and it is stored, then deleted.
    poll_until_empty(poller_for(queue), sqs, queue)
    assert len(inbox(app)) == 1


@pytest.mark.parametrize("crash_point", ["before-commit", "before-delete"])
def test_a_poller_killed_mid_batch_still_applies_the_event_exactly_once(
        app, tenant, pki, sqs, poller_env, tmp_path, crash_point):
    """The issue's crash test: a real process dies between receive and commit (or between
    commit and delete); SQS redelivers; a fresh poller stores it once; it is applied once."""
    queue = local_sqs.create_queue(sqs, visibility_timeout=1)
    send(sqs, queue, pki.sign(notification(BOUNCE)))
    options = ["--source", tenant.token, "--queue-url", queue, "--wait-seconds", "1"]

    log = tmp_path / "crashing.log"
    with running(python(str(ROOT / "tests/support/crashing_sqs_poller.py"), crash_point, "--", *options),
                 poller_env, log) as crashing:
        assert poll(lambda: crashing.poll() is not None, timeout=60), "the crashing poller never died"
    assert crashing.returncode == 1, log.read_text()
    assert "dying now" in log.read_text()
    # It died where it was meant to: with nothing stored, or stored and not deleted.
    assert len(inbox(app)) == (1 if crash_point == "before-delete" else 0)
    assert local_sqs.depth(sqs, queue) == 1

    # The restarted poller (the real command, one batch per run) until the queue is empty.
    def one_run() -> bool:
        with running(python("-m", "tracker.cli.sqs", *options, "--once"), poller_env, tmp_path / "poller.log") as p:
            assert p.wait(60) == 0, (tmp_path / "poller.log").read_text()
        return local_sqs.depth(sqs, queue) == 0

    assert poll(one_run, timeout=90), "the queue never emptied"
    drain(app)

    [row] = inbox(app)
    assert row.state == "processed"
    delivery = the_delivery(app)
    assert (delivery.status, delivery.events_count) == ("BOUNCED", 1)


def test_the_long_lived_poller_stores_what_arrives_and_stops_cleanly_on_sigterm(
        app, tenant, pki, sqs, queue, poller_env, tmp_path):
    log = tmp_path / "poller.log"
    command = python("-m", "tracker.cli.sqs", "--source", tenant.token, "--queue-url", queue, "--wait-seconds", "1")
    with running(command, poller_env, log) as process:
        wait_for_log(log, "polling", process)
        send(sqs, queue, pki.sign(notification(BOUNCE)))

        assert poll(lambda: local_sqs.depth(sqs, queue) == 0 and len(inbox(app)) == 1), log.read_text()
        # Without a broker the poller process applies the events itself.
        assert poll(lambda: inbox(app)[0].state == "processed"), log.read_text()

        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, log.read_text()
    assert "stored=1" in log.read_text()
    assert the_delivery(app).status == "BOUNCED"


def test_an_unknown_source_exits_non_zero_with_a_clear_message(queue, poller_env, tmp_path):
    log = tmp_path / "poller.log"
    with running(python("-m", "tracker.cli.sqs", "--source", "no-such-token", "--queue-url", queue, "--once"),
                 poller_env, log) as process:
        assert process.wait(60) != 0
    assert "no SES source has this token" in log.read_text()


def test_a_queue_that_does_not_exist_ends_the_poller_with_a_clear_message(queue, tenant, poller_env, tmp_path):
    # A mistyped or deleted queue is no outage to wait out: SQS answers, and says the queue is
    # not there. The poller used to log a warning every few seconds for ever.
    log = tmp_path / "poller.log"
    command = python("-m", "tracker.cli.sqs", "--source", tenant.token, "--queue-url", queue + "-missing",
                     "--wait-seconds", "1")
    with running(command, poller_env, log) as process:
        assert poll(lambda: process.poll() is not None, timeout=60), log.read_text()[-2000:]
    assert process.returncode != 0
    assert f"no SQS queue at {queue}-missing" in log.read_text()
