"""One status per delivery, whatever the order, the duplicates and the number of workers.

The same seeded history of SES (through SNS, both notification families) and SendGrid events,
with the duplicates at-least-once senders make, goes to two accounts of one database through the
real receivers:

- "reference": POSTed in the order the events happened, each applied before the next;
- "shuffled": POSTed in a shuffled order, then applied by several worker processes at once
  (tests.support.apply_worker: tracker.pipeline.ingest.process_pending on their own connections,
  a few rows per transaction), so that batches of one delivery's events race each other.

Afterwards every delivery of either account must be what the pure fold (tracker.domain) gives for
its distinct events; both accounts must agree on everything that does not depend on arrival
(statuses and facts, counts, statistics, suppressions, what every API renders); and the status
changes queued for subscribers must be one chain per delivery, each change once.
"""
from __future__ import annotations

import json
import random
import subprocess
import threading
import uuid
from collections import Counter, defaultdict
from datetime import datetime, timedelta, UTC

import pytest
from sqlalchemy import select

from tests.support.harness import drain, make_tenant
from tests.support.processes import python
from tests.support.ses_events import bounce, for_message
from tests.support.shuffled_history import history
from tests.support.sns_signing import notification
from tests.support.webhooks import sendgrid
from tests.support.lock_waits import until_a_session_waits_on_a_lock
from tracker.db import repository
from tracker.db.models import Account, Delivery, DeliveryEvent, DeliveryStat, InboxEvent, Suppression, WebhookEvent
from tracker.db.repository.deliveries import state_of
from tracker.domain import Status, engagement, fold, milestones, suppression
from tracker.pipeline import ingest, operations
from tracker.pipeline.rows import events_of

pytestmark = pytest.mark.integration

WORKERS = 4


@pytest.fixture
def hooks_app(make_app):
    return make_app(webhook_allow_http=True, webhook_allowed_networks="127.0.0.0/8:*")


class Account_:
    """An account with an SES source, a SendGrid source and a webhook subscription to every change."""

    def __init__(self, app, name: str):
        self.app = app
        self.tenant = make_tenant(app, name, ["*"])
        with app.extensions["tracker"].db.transaction() as session:
            account = session.get(Account, self.tenant.account_id)
            self.sendgrid = repository.create_source(session, account, "sendgrid",
                                                     secret=sendgrid.EXAMPLE_SECRET).token
        answer = app.test_client().post("/api/v1/webhooks", json={"url": "http://127.0.0.1:9/hook"},
                                        headers=self.tenant.auth)
        assert answer.status_code == 201, answer.json

    @property
    def id(self) -> int:
        return self.tenant.account_id

    def post(self, pki, item) -> None:
        client = self.app.test_client()
        if item[0] == "ses":
            _, message, sns_id = item
            answer = client.post(self.tenant.hook, data=json.dumps(pki.sign(notification(message, message_id=sns_id))))
        else:
            body, headers = sendgrid.signed_request(json.dumps(item[1]).encode(), sendgrid.EXAMPLE_SECRET)
            answer = client.post(f"/hooks/sendgrid/{self.sendgrid}", data=body, headers=headers)
        assert answer.status_code == 200, answer.get_data(as_text=True)


def _apply_in_parallel(app, pg_url: str, tmp_path, workers: int, batch: int) -> list[dict]:
    go = tmp_path / "go"
    processes = [subprocess.Popen(python("-m", "tests.support.apply_worker", pg_url, str(batch), str(go)),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(workers)]
    go.touch()
    results = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


# --- what the pure core says ---------------------------------------------------------------------


def _expected(app, account_id: int) -> dict:
    """(message, recipient) -> the fold's state, engagement, milestones and event count, from the
    distinct events of the account's inbox rows (read by the pure parsers)."""
    with app.extensions["tracker"].db.session() as session:
        rows = session.scalars(select(InboxEvent).where(InboxEvent.account_id == account_id)
                               .order_by(InboxEvent.id)).all()
        events = [event for row in rows for event in events_of(row)]
    distinct: dict[tuple, dict] = defaultdict(dict)
    for event in events:
        if event.recipient is None or not event.message_id:
            continue
        distinct[(event.message_id, event.recipient)].setdefault(event.event_key, event)
    return {key: {"state": fold(found.values()), "engagement": engagement(found.values()),
                  "milestones": milestones(found.values()), "events": len(found)}
            for key, found in distinct.items()}


def _expected_suppressions(app, account_id: int, limit: int) -> set[str]:
    with app.extensions["tracker"].db.session() as session:
        rows = session.scalars(select(InboxEvent).where(InboxEvent.account_id == account_id)).all()
        events = {(e.message_id, e.recipient, e.event_key): e for row in rows for e in events_of(row)
                  if e.recipient}
    immediate = {e.recipient for e in events.values() if suppression.immediate_reason(e)}
    soft = Counter(e.recipient for e in events.values() if suppression.is_soft_bounce(e))
    return immediate | {address for address, count in soft.items() if count >= limit}


# --- what the database holds ---------------------------------------------------------------------


def _deliveries(app, account_id: int) -> dict:
    with app.extensions["tracker"].db.session() as session:
        return {(d.message_id, d.recipient): d for d in session.scalars(
            select(Delivery).where(Delivery.account_id == account_id))}


def _facts(delivery: Delivery) -> tuple:
    """Everything a delivery row says that must not depend on arrival (not its ids, sequence or record times)."""
    return (delivery.provider, state_of(delivery), delivery.events_count, delivery.opens_count,
            delivery.first_opened_at, delivery.last_opened_at, delivery.clicks_count, delivery.first_clicked_at,
            delivery.last_clicked_at, delivery.last_clicked_link, delivery.sent_at, delivery.delivered_at,
            delivery.first_event_at, delivery.submitted_at)


def _stats(app, account_id: int) -> Counter:
    with app.extensions["tracker"].db.session() as session:
        rows = session.scalars(select(DeliveryStat).where(DeliveryStat.account_id == account_id)).all()
    return Counter({(r.hour, r.domain, r.provider, r.status, r.outcome): r.count for r in rows if r.count})


def _recounted_stats(app, account_id: int) -> Counter:
    """The statistics counted again from the deliveries (rolled back: what a rebuild would write)."""
    with app.extensions["tracker"].db.session() as session:
        repository.rebuild_stats(session, account_id)
        rows = session.scalars(select(DeliveryStat).where(DeliveryStat.account_id == account_id)).all()
        counted = Counter({(r.hour, r.domain, r.provider, r.status, r.outcome): r.count for r in rows if r.count})
        session.rollback()
    return counted


def _suppressions(app, account_id: int) -> dict:
    with app.extensions["tracker"].db.session() as session:
        return {s.address: (s.reason, s.provider, s.message_id, s.event_key, s.occurred_at) for s in session.scalars(
            select(Suppression).where(Suppression.account_id == account_id))}


def _history(app, account_id: int) -> set:
    with app.extensions["tracker"].db.session() as session:
        return {(e.message_id, e.recipient, e.event_key, e.type, e.status, e.occurred_at, e.bounce_type,
                 e.bounce_subtype, e.diagnostic) for e in session.scalars(
            select(DeliveryEvent).where(DeliveryEvent.account_id == account_id))}


def _status_changes(app, account_id: int) -> dict[int, list[tuple[int, str]]]:
    with app.extensions["tracker"].db.session() as session:
        found = defaultdict(list)
        for event in session.scalars(select(WebhookEvent).where(WebhookEvent.account_id == account_id,
                                                                WebhookEvent.type == "delivery.status_changed")):
            found[event.delivery_id].append((event.sequence, json.loads(event.payload)["delivery"]["status"]))
        return {delivery_id: sorted(changes) for delivery_id, changes in found.items()}


def _inbox_trouble(app, account_id: int) -> list:
    with app.extensions["tracker"].db.session() as session:
        return [(row.id, row.state, row.attempts, row.error) for row in session.scalars(
            select(InboxEvent).where(InboxEvent.account_id == account_id))
            if row.state != "processed" or row.attempts]


# What records the processing itself (row ids, when a row was written), not what happened to the email.
_RECORD_KEYS = {"id", "created_at", "updated_at", "createdDateTime", "updatedDateTime"}


def _rendered(app, account: Account_) -> dict[str, dict]:
    """What each API (native, Elevate, Infobip, SendCloud, Postman) renders of every delivery, by
    (message id, recipient), without the keys that record the processing."""
    client, key = app.test_client(), account.tenant.key
    by_id = {d.id: (d.message_id, d.recipient) for d in _deliveries(app, account.id).values()}

    def listed(path, query, headers=None):
        answer = client.get(path, query_string=query, headers=headers or account.tenant.auth)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        return answer.json

    def kept(item):
        return {name: value for name, value in item.items() if name not in _RECORD_KEYS}

    native = listed("/api/v1/deliveries", {"limit": 500})
    assert native["next_cursor"] is None
    sendcloud = listed("/apiv2/data/emailStatus", {"apiUser": "u", "apiKey": key, "days": 1, "limit": 100}, {})
    assert int(sendcloud["info"]["total"]) <= 100
    return {
        "native": {(i["message_id"], i["recipient"]): kept(i) for i in native["data"]},
        "elevate": {by_id[i["id"]]: kept(i) for i in listed("/v1/email-status", {"pageSize": 1000})},
        "infobip": {(i["messageId"], i["to"]): kept(i) for i in listed(
            "/email/1/logs", {"limit": 1000}, {"Authorization": f"App {key}"})["results"]},
        "sendcloud": {tuple(i["emailId"].split("$", 1)): kept(i) for i in sendcloud["info"]["voList"]},
        "postman": {by_id[i["id"]]: kept(i) for i in listed("/v1/transactional/email", {"limit": 1000})["data"]},
    }


# --- the checks ------------------------------------------------------------------------------------


def _check_against_the_fold(app, account: Account_) -> None:
    expected, found = _expected(app, account.id), _deliveries(app, account.id)
    assert set(found) == set(expected)
    for key, delivery in found.items():
        want = expected[key]
        assert state_of(delivery) == want["state"], key
        assert delivery.events_count == want["events"], key
        got = want["engagement"]
        assert (delivery.opens_count, delivery.first_opened_at, delivery.last_opened_at, delivery.clicks_count,
                delivery.first_clicked_at, delivery.last_clicked_at, delivery.last_clicked_link) == (
            got.opens, got.first_opened_at, got.last_opened_at, got.clicks, got.first_clicked_at,
            got.last_clicked_at, got.last_clicked_link), key
        marks = want["milestones"]
        assert (delivery.sent_at, delivery.delivered_at, delivery.first_event_at) == (
            marks.sent_at, marks.delivered_at, marks.first_event_at), key
    assert _stats(app, account.id) == _recounted_stats(app, account.id), account.tenant.account_id
    limit = app.extensions["tracker"].settings.soft_bounces.limit
    assert set(_suppressions(app, account.id)) == _expected_suppressions(app, account.id, limit)


def _check_status_changes(app, account: Account_) -> None:
    """Per delivery: sequences 1..n once each, every change to a higher-ranked status, the last one its status."""
    changes = _status_changes(app, account.id)
    for delivery in _deliveries(app, account.id).values():
        sent = changes.get(delivery.id, [])
        assert [sequence for sequence, _ in sent] == list(range(1, len(sent) + 1)), (delivery.message_id, sent)
        ranks = [Status(status).rank for _, status in sent]
        assert ranks == sorted(set(ranks)), (delivery.message_id, sent)
        assert sent and sent[-1][1] == delivery.status and delivery.status_sequence == len(sent), (
            delivery.message_id, sent, delivery.status, delivery.status_sequence)


def _run_both(app, pki, tmp_path, pg_url, seed: int) -> tuple[Account_, Account_]:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    posts = history(seed, ses_messages=40, sendgrid_messages=20, start=start)
    reference, shuffled = Account_(app, "reference"), Account_(app, "shuffled")
    for item in posts:
        reference.post(pki, item)
        drain(app)
    random.Random(seed).shuffle(posts)
    for item in posts:
        shuffled.post(pki, item)
    results = _apply_in_parallel(app, pg_url, tmp_path, WORKERS, batch=3)
    assert sum(r["processed"] for r in results) > 0
    return reference, shuffled


@pytest.mark.parametrize("seed", [1, 2])
def test_parallel_workers_on_shuffled_duplicated_events_reach_the_folds_state(hooks_app, pki, tmp_path, pg_url, seed):
    app = hooks_app
    reference, shuffled = _run_both(app, pki, tmp_path, pg_url, seed)

    for account in (reference, shuffled):
        assert _inbox_trouble(app, account.id) == []  # no batch failed (a deadlock, a refused write)
        _check_against_the_fold(app, account)
        _check_status_changes(app, account)
    assert ({key: _facts(d) for key, d in _deliveries(app, shuffled.id).items()}
            == {key: _facts(d) for key, d in _deliveries(app, reference.id).items()})
    assert _history(app, shuffled.id) == _history(app, reference.id)
    assert _stats(app, shuffled.id) == _stats(app, reference.id)
    assert _suppressions(app, shuffled.id) == _suppressions(app, reference.id)
    rendered = _rendered(app, shuffled)
    assert rendered == _rendered(app, reference)
    expected = _expected(app, shuffled.id)
    assert {key: item["status"] for key, item in rendered["native"].items()} == {
        key: want["state"].status.value for key, want in expected.items()}


def _everything(app, account: Account_) -> tuple:
    deliveries = _deliveries(app, account.id)
    return ({key: (_facts(d), d.status_sequence) for key, d in deliveries.items()}, _stats(app, account.id),
            _suppressions(app, account.id), _status_changes(app, account.id), _rendered(app, account))


def test_an_operators_replay_and_a_rebuild_after_parallel_shuffled_work_change_nothing(hooks_app, pki, tmp_path,
                                                                                       pg_url):
    app = hooks_app
    services = app.extensions["tracker"]
    _, shuffled = _run_both(app, pki, tmp_path, pg_url, seed=3)
    before = _everything(app, shuffled)
    with services.db.session() as session:
        applied = list(session.scalars(select(InboxEvent.id).where(InboxEvent.account_id == shuffled.id)))

    assert operations.replay_ids(services, applied).replayed == 0  # applied already: nothing to replay
    summary = operations.rebuild(services, account_id=shuffled.id)

    assert (summary.unreadable, summary.changed, summary.removed) == (0, 0, 0)
    assert _everything(app, shuffled) == before


# --- two workers, one message: its sender learnt while the other counts ------------------------------


def _held_first_worker(app, first_id: int, second_id: int, *, second_waits: bool = True) -> None:
    """Apply row ``first_id`` in a transaction that commits only once a second worker, applying
    ``second_id`` in a thread, waits for one of its locks (or is done); then let the second one finish."""
    services = app.extensions["tracker"]

    def second_worker():
        ingest.process_rows(services.db, [second_id], services.confirmer, services.settings)

    with services.db.transaction() as session:
        ingest._process(session, repository.claim_by_ids(session, [first_id]), services.confirmer, services.settings)
        thread = threading.Thread(target=second_worker)
        thread.start()
        until_a_session_waits_on_a_lock(services.db, thread)
        assert thread.is_alive() or not second_waits, "the second worker did not wait for the first"
    thread.join(30)
    assert not thread.is_alive()


def test_a_delivery_counted_while_another_worker_records_its_messages_sender_moves_to_that_domain(hooks_app, pki):
    """Two recipients of one new SES message delivered, applied by two workers at once: the second
    counted its delivery under no sending domain (the From was the first's, not committed yet),
    then found the From known and moved nothing, so the statistics (and the reputation per domain)
    kept one delivery under "" for good."""
    app = hooks_app
    account = Account_(app, "acme")
    for recipient in ("one@example.com", "two@example.com"):
        message = for_message("event/delivery.json", "m1", ["one@example.com", "two@example.com"],
                              delivery={"recipients": [recipient]})
        account.post(pki, ("ses", message, str(uuid.uuid4())))
    with app.extensions["tracker"].db.session() as session:
        first_id, second_id = [row.id for row in repository.claim_pending(session, 10)]

    _held_first_worker(app, first_id, second_id)

    assert _inbox_trouble(app, account.id) == []
    assert {(domain, status): count for (_, domain, _, status, _), count in _stats(app, account.id).items()} == {
        ("example.com", "DELIVERED"): 2}
    assert _stats(app, account.id) == _recounted_stats(app, account.id)


def test_two_soft_bounces_of_one_address_applied_at_once_suppress_it(hooks_app, pki):
    """Soft bounces of one address from two messages, applied by two workers at once: each counted
    its own bounce and not the other's (not committed yet), so neither reached the limit of 2 and
    the address was never suppressed, although a worker applying them one after the other does."""
    app = hooks_app
    account = Account_(app, "acme")
    bounces = []
    for message_id, hour in (("m1", "08"), ("m2", "09")):
        # Sent in two hours, and sent before: the workers share no statistics row.
        sent = for_message("event/send.json", message_id, ["soft@example.net"])
        sent["mail"]["timestamp"] = f"2026-11-20T{hour}:00:00.000Z"
        account.post(pki, ("ses", sent, str(uuid.uuid4())))
        bounces.append(bounce(message_id, "soft@example.net", "Transient", f"fb-{message_id}",
                              "2026-11-20T10:00:00.000Z"))
        bounces[-1]["mail"]["timestamp"] = sent["mail"]["timestamp"]
    drain(app)
    for message in bounces:
        account.post(pki, ("ses", message, str(uuid.uuid4())))
    with app.extensions["tracker"].db.session() as session:
        first_id, second_id = [row.id for row in repository.claim_pending(session, 10)]

    _held_first_worker(app, first_id, second_id, second_waits=False)

    assert _inbox_trouble(app, account.id) == []
    assert _suppressions(app, account.id) == {"soft@example.net": (
        "soft_bounces", "ses", "m2", "ses:bounced:fb-m2", datetime(2026, 11, 20, 10, tzinfo=UTC))}


@pytest.mark.parametrize("order", [("complaint", "bounce"), ("bounce", "complaint")])
def test_an_addresss_suppression_names_its_earliest_suppressing_event_whatever_the_order(hooks_app, pki, order):
    """A hard bounce at 10:00 and a complaint at 11:00 (two messages): the entry used to name
    whichever was applied first, so the same events gave "complaint" or "hard_bounce"."""
    app = hooks_app
    account = Account_(app, "acme")
    events = {"bounce": bounce("m1", "a@example.net", "Permanent", "fb-1", "2026-11-20T10:00:00.000Z"),
              "complaint": for_message("event/complaint.json", "m2", ["a@example.net"], complaint={
                  "timestamp": "2026-11-20T11:00:00.000Z", "feedbackId": "fc-1",
                  "complainedRecipients": [{"emailAddress": "a@example.net"}]})}
    for name in order:
        account.post(pki, ("ses", events[name], str(uuid.uuid4())))
        drain(app)

    assert _suppressions(app, account.id) == {"a@example.net": (
        "hard_bounce", "ses", "m1", "ses:bounced:fb-1", datetime(2026, 11, 20, 10, tzinfo=UTC))}
