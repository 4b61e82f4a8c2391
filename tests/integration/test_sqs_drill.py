"""The SQS intake drill: the real `tracker sqs-poll` against moto's SQS and a private PostgreSQL
cluster, fed good messages mixed with poison of every kind, killed mid-batch, started while the
database is down, SIGKILLed again mid-run, and cut off from the database midway.

What a user relies on: each good message applied exactly once, nothing the tracker could
store left behind, the queue drained, and the poller still standing at the end.
"""
from __future__ import annotations

import json
import os
import random
import signal

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from tests.support import sqs as local_sqs
from tests.support.harness import RecordingWaker, make_tenant
from tests.support.private_postgres import private_cluster
from tests.support.processes import ROOT, poll, python, running, wait_for_log
from tests.support.sns_signing import DEFAULT_TOPIC_ARN, notification
from tests.support.sqs_poison import poison, raw_bounce, unreadable
from tracker.db.models import Delivery, InboxEvent

pytestmark = pytest.mark.integration

RECIPIENT = "jane@example.com"  # the recorded bounce's


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
def cluster():
    with private_cluster("sqsdrill") as cluster:
        yield cluster


def counts(app) -> dict | None:
    """Inbox rows by state and deliveries by message id (None while the test's connections die)."""
    try:
        with app.extensions["tracker"].db.session() as session:
            rows = dict(session.execute(select(InboxEvent.state, func.count()).group_by(InboxEvent.state)).all())
            deliveries = {d.message_id: (d.recipient, d.status, d.events_count)
                          for d in session.scalars(select(Delivery))}
        return {"rows": rows, "deliveries": deliveries}
    except OperationalError:
        return None


def test_sqs_intake_drill(cluster, pki, sqs, sqs_endpoint, tmp_path):
    from tracker import create_app
    from tracker.adapters.sns_certificates import DirectoryCertificateStore
    from tracker.config import Config

    app = create_app(Config(database_url=cluster.create_database(), sns_cert_dir=str(pki.directory)),
                     certificates=DirectoryCertificateStore(pki.directory), waker=RecordingWaker())
    tenant = make_tenant(app, "acme", [DEFAULT_TOPIC_ARN])
    queue = local_sqs.create_queue(sqs, visibility_timeout=2)
    env = {**local_sqs.AWS_ENV, "TRACKER_DATABASE_URL": app.extensions["tracker"].db.url,
           "TRACKER_SNS_CERT_DIR": str(pki.directory), "TRACKER_BROKER_URL": "",
           "TRACKER_AWS_ENDPOINT_URL": sqs_endpoint,
           "TRACKER_MAX_BODY_BYTES": str(64 * 1024), "TRACKER_SWEEP_INTERVAL": "1"}
    options = ["--source", tenant.token, "--queue-url", queue, "--wait-seconds", "1"]
    rng = random.Random(16)

    # Good messages: signed envelopes and raw deliveries, one new delivery each; some sent
    # twice, as SNS may. Poison: every kind that can never be accepted, and some that are
    # stored (they passed authentication) but can never be applied.
    good = {f"drill-{n}": (json.dumps(pki.sign(notification(raw_bounce(f"drill-{n}")))) if n % 2
                           else raw_bounce(f"drill-{n}")) for n in range(60)}
    refused = [body for body, _ in poison(pki).values()]
    unappliable = [json.dumps(pki.sign(notification("{}"))), json.dumps({"hello": "not an SES event"}),
                   *(body for body, _ in unreadable().values())]
    bodies = list(good.values()) + [good[f"drill-{n}"] for n in range(0, 60, 6)] + refused + unappliable
    rng.shuffle(bodies)
    waves = [bodies[:len(bodies) // 3], bodies[len(bodies) // 3: 2 * len(bodies) // 3], bodies[2 * len(bodies) // 3:]]

    def send(wave) -> None:
        for body in wave:
            sqs.send_message(QueueUrl=queue, MessageBody=body)

    def stored() -> int:
        snapshot = counts(app)
        return sum(snapshot["rows"].values()) if snapshot else 0

    # 1. Killed mid-batch: the first batch is committed to the inbox, none of it deleted.
    send(waves[0])
    log = tmp_path / "crashing.log"
    with running(python(str(ROOT / "tests/support/crashing_sqs_poller.py"), "before-delete", "--", *options),
                 env, log) as crashing:
        assert poll(lambda: crashing.poll() is not None, timeout=60), "the crashing poller never died"
    assert "dying now" in log.read_text()
    assert stored() > 0 and local_sqs.depth(sqs, queue) == len(waves[0])

    # 2. Started while the database is down: it waits, then drains the first wave.
    cluster.stop()
    logs = [tmp_path / "poller-1.log", tmp_path / "poller-2.log"]
    command = python("-m", "tracker.cli.sqs", *options)
    with running(command, env, logs[0]) as poller:
        wait_for_log(logs[0], "does not answer", poller)
        cluster.start()
        assert poll(lambda: local_sqs.depth(sqs, queue) == 0, timeout=90), logs[0].read_text()[-3000:]

        # 3. SIGKILLed in the middle of the second wave, and started again.
        before = stored()
        send(waves[1])
        assert poll(lambda: stored() > before, timeout=60), logs[0].read_text()[-3000:]
        os.killpg(poller.pid, signal.SIGKILL)
        poller.wait(10)
    with running(command, env, logs[1]) as poller:
        wait_for_log(logs[1], "polling", poller)
        assert poll(lambda: local_sqs.depth(sqs, queue) == 0, timeout=90), logs[1].read_text()[-3000:]

        # 4. The database goes away while the third wave arrives, and comes back.
        cluster.stop()
        send(waves[2])
        wait_for_log(logs[1], "does not answer", poller, timeout=60)
        cluster.start()

        def drained_and_applied():
            snapshot = counts(app)
            return (local_sqs.depth(sqs, queue) == 0 and snapshot is not None
                    and not snapshot["rows"].get("pending") and len(snapshot["deliveries"]) >= len(good)
                    and snapshot)

        final = poll(drained_and_applied, timeout=120)
        assert final, f"{local_sqs.depth(sqs, queue)} left in the queue; {counts(app)}\n{logs[1].read_text()[-3000:]}"
        poller.send_signal(signal.SIGTERM)
        assert poller.wait(30) == 0, logs[1].read_text()[-3000:]

    # Each good message applied exactly once; poison stored nowhere, or kept failed for replay.
    assert final["deliveries"] == {message_id: (RECIPIENT, "BOUNCED", 1) for message_id in good}
    assert final["rows"] == {"processed": len(good), "failed": len(unappliable)}
    print(f"\nSQS drill: {len(good)} good messages (+{len(bodies) - len(good) - len(refused) - len(unappliable)} "
          f"sent twice) applied once each; {len(refused)} poison refused and deleted; {len(unappliable)} stored "
          f"and failed for replay; queue drained after 1 mid-batch crash, 1 SIGKILL and 2 database outages")
