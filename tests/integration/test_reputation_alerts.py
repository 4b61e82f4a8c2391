"""Threshold alerts: each crossing of a threshold is sent once to the account's webhook subscribers."""
from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from sqlalchemy import select

from tests.integration.test_stats import SENT_AT, post, ses_event
from tests.support.harness import drain, make_tenant
from tests.support.receiver import receiving
from tracker.db import repository
from tracker.db.models import WebhookEvent
from tracker.domain.reputation import Thresholds
from tracker.outbound import sender, signing
from tracker.pipeline import reputation

pytestmark = pytest.mark.integration


@pytest.fixture
def hooks_app(make_app):
    return make_app(webhook_allow_http=True, webhook_allowed_networks="127.0.0.0/8:*")


def judge_every_volume(app, tenant) -> None:
    """SES's thresholds, judged from the first message on (not after 100 sent)."""
    with app.extensions["tracker"].db.transaction() as session:
        repository.set_thresholds(session, tenant.account_id, Thresholds(min_sent=0))


def subscribe(app, tenant, url) -> dict:
    response = app.test_client().post("/api/v1/webhooks", json={"url": url, "statuses": ["DELIVERED"]},
                                      headers=tenant.auth)
    assert response.status_code == 201, response.json
    return response.json


def send(app, tenant, pki, kind: str, n: int, domain: str = "news.example", **body) -> None:
    post(app, tenant, pki, ses_event(kind, f"m-{domain}-{n}", f"hello@{domain}", [f"r{n}@example.org"], **body))


def crossings(receiver) -> list[tuple]:
    return [(r["json"]["reputation"]["scope"], r["json"]["reputation"]["domain"], r["json"]["reputation"]["metric"],
             r["json"]["reputation"]["previous_state"], r["json"]["reputation"]["state"])
            for r in receiver.requests if r["json"]["type"] == "reputation.threshold_crossed"]


def test_each_crossing_is_sent_once_signed_up_and_back_down(hooks_app, pki):
    app, tenant = hooks_app, make_tenant(hooks_app, "acme", ["*"])
    services = app.extensions["tracker"]
    with services.db.transaction() as session:  # what `tracker accounts set-thresholds` stores
        repository.set_thresholds(session, tenant.account_id, Thresholds(bounce_warning=0.1, bounce_at_risk=0.2,
                                                                              min_sent=0))
    with receiving() as receiver:
        subscription = subscribe(app, tenant, receiver.url)
        for n in range(9):
            send(app, tenant, pki, "delivery", n)
        drain(app)
        sender.send_due(services, services.webhook_settings)
        assert crossings(receiver) == []  # healthy: nothing to say

        send(app, tenant, pki, "bounce", 9)  # 1 hard bounce of 10 sent: 10%, warning
        drain(app)
        send(app, tenant, pki, "delivery", 10)  # 1 of 11: 9.1%, healthy again
        drain(app)
        for n in (11, 12):  # 3 of 13: 23%, straight to at risk
            send(app, tenant, pki, "bounce", n)
        drain(app)
        send(app, tenant, pki, "bounce", 13, bounce_type="Transient")  # soft: counts as sent, not as a bounce
        drain(app)
        sender.send_due(services, services.webhook_settings)
        drain(app)  # nothing new: nothing re-sent
        sender.send_due(services, services.webhook_settings)

    # The account and its one domain move together; each crossing told once, whatever the filter on statuses.
    expected = []
    for previous, state in (("healthy", "warning"), ("warning", "healthy"), ("healthy", "at_risk")):
        expected += [("account", None, "bounce_rate", previous, state),
                     ("domain", "news.example", "bounce_rate", previous, state)]
    assert sorted(crossings(receiver)) == sorted(expected)
    last = [r for r in receiver.requests if r["json"]["type"] == "reputation.threshold_crossed"][-1]
    assert last["json"]["reputation"]["rate"] == pytest.approx(3 / 13)  # as it was when it crossed
    assert last["json"]["reputation"]["thresholds"] == {"warning": 0.1, "at_risk": 0.2}
    assert signing.verify(subscription["secret"], last["body"], last["headers"], now=int(time.time()))


def test_a_domain_crosses_alone_and_other_accounts_hear_nothing(hooks_app, pki):
    app = hooks_app
    tenant, other = make_tenant(app, "acme", ["*"]), make_tenant(app, "other", ["*"])
    judge_every_volume(app, tenant)
    judge_every_volume(app, other)
    services = app.extensions["tracker"]
    with receiving() as ours, receiving() as theirs:
        subscribe(app, tenant, ours.url)
        subscribe(app, other, theirs.url)
        for n in range(40):
            send(app, tenant, pki, "delivery", n, domain="big.example")
        send(app, tenant, pki, "complaint", 40, domain="small.example")
        drain(app)
        sender.send_due(services, services.webhook_settings)
    # small.example: 1 complaint of 1 sent; the account: 1 of 41 (2.4%), past 0.5% as well.
    assert sorted(crossings(ours)) == [("account", None, "complaint_rate", "healthy", "at_risk"),
                                       ("domain", "small.example", "complaint_rate", "healthy", "at_risk")]
    assert theirs.requests == []


def test_the_scheduled_evaluation_sees_the_window_pass_and_the_gauges_tell_the_state(hooks_app, pki):
    from datetime import timedelta

    app, tenant = hooks_app, make_tenant(hooks_app, "acme", ["*"])
    judge_every_volume(app, tenant)
    send(app, tenant, pki, "bounce", 1)
    drain(app)
    metrics = app.test_client().get("/metrics").get_data(as_text=True)
    assert 'tracker_reputation_state{account="acme",metric="bounce"} 2.0' in metrics
    assert 'tracker_reputation_rate{account="acme",metric="bounce"} 1.0' in metrics

    with app.extensions["tracker"].db.transaction() as session:
        found = reputation.evaluate_all(session, now=SENT_AT + timedelta(days=2))  # the bounce left the window
    assert {(c.domain, c.metric, c.state) for c in found} == {(None, "bounce_rate", "healthy"),
                                                              ("news.example", "bounce_rate", "healthy")}
    with app.extensions["tracker"].db.session() as session:
        queued = session.scalars(select(WebhookEvent)).all()
    assert queued == []  # no subscriber, nothing queued
    assert 'tracker_reputation_state{account="acme",metric="bounce"} 0.0' in \
        app.test_client().get("/metrics").get_data(as_text=True)


def test_set_thresholds_from_the_command_line(pg_db, tmp_path):
    env = {"TRACKER_DATABASE_URL": pg_db.url, "PATH": "/usr/bin:/bin"}

    def tracker(*args):
        return subprocess.run([sys.executable, "-m", "tracker.cli.main", *args], env={**env, **_pythonpath()},
                              capture_output=True, text=True, timeout=120)

    assert tracker("accounts", "create", "acme").returncode == 0
    done = tracker("accounts", "set-thresholds", "acme", "--bounce-warning", "3%", "--complaint-at-risk", "0.004")
    assert done.returncode == 0, done.stderr
    assert "bounce warning 3.00%" in done.stdout and "at risk 0.40%" in done.stdout
    refused = tracker("accounts", "set-thresholds", "acme", "--bounce-warning", "20%")
    assert refused.returncode != 0 and "bounce_warning must not be above bounce_at_risk" in refused.stderr
    with pg_db.session() as session:
        account = repository.account_by_name(session, "acme")
        assert repository.thresholds_of(session, account.id) == Thresholds(bounce_warning=0.03,
                                                                           complaint_at_risk=0.004, min_sent=100)


def _pythonpath() -> dict:
    import os

    return {"PYTHONPATH": os.environ.get("PYTHONPATH", "")}


def test_the_payload_is_json_with_its_type(hooks_app, pki):
    app, tenant = hooks_app, make_tenant(hooks_app, "acme", ["*"])
    judge_every_volume(app, tenant)
    subscribe(app, tenant, "http://127.0.0.1:9/hook")
    send(app, tenant, pki, "bounce", 1)
    drain(app)
    with app.extensions["tracker"].db.session() as session:
        events = session.scalars(select(WebhookEvent).where(WebhookEvent.type == "reputation.threshold_crossed")).all()
    assert len(events) == 2  # the account's bounce rate and its domain's
    body = json.loads(events[0].payload)
    assert body["type"] == "reputation.threshold_crossed" and body["id"] and body["occurred_at"]


def test_by_default_a_hundred_must_be_sent_before_a_state_is_judged(hooks_app, pki):
    app, tenant = hooks_app, make_tenant(hooks_app, "acme", ["*"])
    subscribe(app, tenant, "http://127.0.0.1:9/hook")
    send(app, tenant, pki, "complaint", 1)  # 1 complaint of 1 sent: 100%, but one message
    drain(app)
    with app.extensions["tracker"].db.session() as session:
        crossed = select(WebhookEvent).where(WebhookEvent.type == "reputation.threshold_crossed")
        assert session.scalars(crossed).all() == []
