"""The production path with real processes: gunicorn + a Celery worker on PostgreSQL and Redis,
and the embedded default (`tracker run` on SQLite), each fed a signed SNS message over HTTP."""
from __future__ import annotations

import json
import re

import pytest

from tests.support.harness import FIXTURES, make_tenant
from tests.support.processes import find_deliveries as find
from tests.support.processes import (
    ROOT,
    free_port,
    http,
    poll,
    python,
    running,
    wait_for_log,
    wait_for_port,
)
from tests.support.sns_signing import notification

pytestmark = pytest.mark.integration


def test_signed_bounce_through_gunicorn_and_a_celery_worker(stack, app, pki):
    tenant = make_tenant(app, "acme", ["*"])
    bounce = json.loads((FIXTURES / "ses/notification/bounce-permanent.json").read_text())
    envelope = json.dumps(pki.sign(notification(bounce), "2")).encode()

    status, body = http("POST", stack + tenant.hook, envelope, {"Content-Type": "text/plain; charset=UTF-8"})
    assert (status, body["status"]) == (200, "stored")

    [delivery] = poll(lambda: find(stack, tenant.key, status="BOUNCED")) or [None]
    assert delivery is not None, "the worker never applied the bounce"
    assert delivery["bounce_type"] == "PERMANENT"
    assert delivery["message_id"] == bounce["mail"]["messageId"]

    forged = envelope.replace(b"Permanent", b"Transient")
    status, body = http("POST", stack + tenant.hook, forged)
    assert status == 403


def test_rows_left_pending_by_a_broker_outage_are_swept_by_beat(stack, app, pki):
    """A row stored while no wake-up could be sent (Redis down) is still applied."""
    from tracker.db import repository

    tenant = make_tenant(app, "acme", ["*"])
    bounce = (FIXTURES / "ses/notification/bounce-permanent.json").read_text()
    envelope = json.dumps(pki.sign(notification(bounce)))
    services = app.extensions["tracker"]
    with services.db.transaction() as session:  # exactly what the receiver stores, minus the wake-up
        source = repository.source_by_token(session, tenant.token)
        repository.store_inbox_event(session.connection(), source_id=source.id, account_id=tenant.account_id,
                                     provider="ses", kind="notification", dedupe_key="lost-wakeup", body=envelope)

    assert poll(lambda: find(stack, tenant.key, status="BOUNCED"), timeout=30), "the sweep never ran"


def test_tracker_run_on_the_embedded_default_as_the_readme_says(tmp_path):
    """`tracker run` with no configuration, then the README's curl: the bounce shows as BOUNCED."""
    port = free_port()
    log = tmp_path / "run.log"
    env = {"TRACKER_DATABASE_URL": f"sqlite:///{tmp_path}/tracker.db", "TRACKER_BROKER_URL": ""}
    with running(python("-m", "tracker.cli.main", "run", "--port", str(port)), env, log) as process:
        wait_for_port(port, process, log)
        text = wait_for_log(log, "SES hook", process)
        key = re.search(r"API key \(account \"demo\"\): (\S+)", text).group(1)
        hook = re.search(r"SES hook \(any topic\):\s+(\S+)", text).group(1)
        base = f"http://127.0.0.1:{port}"

        status, _ = http("POST", hook, (ROOT / "examples/ses-bounce.json").read_bytes(),
                         {"Content-Type": "text/plain; charset=UTF-8"})
        assert status == 200

        [delivery] = poll(lambda: find(base, key, status="BOUNCED")) or [None]
        assert delivery is not None
        assert (delivery["recipient"], delivery["bounce_type"]) == ("bounce@simulator.amazonses.com", "PERMANENT")


def test_a_hanging_webhook_subscriber_does_not_hold_up_ingestion(stack, app, pki):
    """Events keep being applied while every webhook POST hangs; a healthy subscriber still gets its POSTs."""
    from tests.support.receiver import receiving
    from tracker.db import repository

    tenant = make_tenant(app, "acme", ["*"])
    with receiving(hang=600) as hanging, receiving() as healthy:
        with app.extensions["tracker"].db.transaction() as session:
            for url in (hanging.url, healthy.url):
                repository.create_subscription(session, account_id=tenant.account_id, url=url, secret="whsec_t",
                                               statuses=[])
        bounce = json.loads((FIXTURES / "ses/notification/bounce-permanent.json").read_text())
        for n in range(30):
            bounce["mail"]["messageId"] = f"hang-{n}"
            status, _ = http("POST", stack + tenant.hook, json.dumps(pki.sign(notification(bounce))).encode())
            assert status == 200

        applied = poll(lambda: len(find(stack, tenant.key, status="BOUNCED", limit=100)) == 30 or None)
        assert applied, "ingestion stalled behind the hanging subscriber"
        assert poll(lambda: len(healthy.requests) >= 30 or None), "the healthy subscriber was starved"
        assert len(hanging.requests) <= 2  # the per-subscription bound: the rest wait their turn
