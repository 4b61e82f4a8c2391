"""Operators on real PostgreSQL: a parser bug, its failures listed, the fix, replay, rebuild."""
from __future__ import annotations

import dataclasses
import json
import random
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from tests.support.harness import drain
from tests.support.ses_events import bounce, for_message
from tests.support.sns_signing import notification
from tracker.pipeline import ingest, operations
from tracker.domain import inbox
from tracker.db import repository
from tracker.cli.main import main
from tracker.db.models import Account, Delivery, DeliveryEvent, InboxEvent, WebhookEvent, utcnow
from tracker.providers.ses import parse as ses
from tracker.providers.common.errors import PayloadError

COMPARED = ("account_id", "message_id", "recipient", "provider", "status", "precedence", "status_at", "bounce_type",
            "bounce_subtype", "diagnostic", "events_count", "opens_count", "first_opened_at", "last_opened_at",
            "clicks_count", "first_clicked_at", "last_clicked_at", "last_clicked_link", "sent_at", "delivered_at")


def snapshot(app) -> dict:
    """Every delivery's derived state, keyed by (account, message, recipient)."""
    with app.extensions["tracker"].db.session() as session:
        return {(d.account_id, d.message_id, d.recipient): tuple(getattr(d, c) for c in COMPARED)
                for d in session.scalars(select(Delivery))}


def store(app, tenant, *messages) -> None:
    """Put SES notifications in the inbox exactly as the receiver stores them (after verification)."""
    services = app.extensions["tracker"]
    with services.db.transaction() as session:
        source = repository.source_by_token(session, tenant.token)
        for message in messages:
            envelope = notification(message)
            repository.store_inbox_event(session.connection(), source_id=source.id, account_id=tenant.account_id,
                                         provider="ses", kind=inbox.NOTIFICATION,
                                         dedupe_key=envelope["MessageId"], body=json.dumps(envelope))


@pytest.fixture
def cli(pg_url, pki):
    runner = CliRunner()

    def run(*args):
        result = runner.invoke(main, list(args), env={"TRACKER_DATABASE_URL": pg_url,
                                                      "TRACKER_SNS_CERT_DIR": str(pki.directory),
                                                      "TRACKER_BROKER_URL": "", "COLUMNS": "200"},
                               catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output
    return run


def sends_and_outcomes():
    messages = []
    for n in range(1, 4):
        messages += [for_message("event/send.json", f"m{n}", [f"r{n}@example.com"]),
                     bounce(f"m{n}", f"r{n}@example.com", "Permanent", f"fb{n}", "2026-11-20T10:00:00.000Z")]
    for n in range(4, 6):
        delivery = for_message("event/delivery.json", f"m{n}", [f"r{n}@example.com"],
                               delivery={"recipients": [f"r{n}@example.com"]})
        messages += [for_message("event/send.json", f"m{n}", [f"r{n}@example.com"]), delivery]
    return messages


def test_a_parser_bug_is_listed_fixed_replayed_once_and_rebuilt_identically(app, tenant, cli, monkeypatch):
    real_parse = ses.read_message

    def buggy(message, **kwargs):
        if '"Bounce"' in message:
            raise PayloadError("bouncedRecipients: parser bug #42")
        return real_parse(message, **kwargs)

    monkeypatch.setattr(ses, "read_message", buggy)
    store(app, tenant, *sends_and_outcomes())
    drain(app)

    listing = cli("events", "list", "--state", "failed", "--error-contains", "BUG #42")
    with app.extensions["tracker"].db.session() as session:
        failed = list(session.scalars(select(InboxEvent).where(InboxEvent.state == "failed")))
    assert len(failed) == 3
    assert all(f.failure_kind == "unmapped_shape" and f.error == "bouncedRecipients: parser bug #42" for f in failed)
    for row in failed:
        assert str(row.id) in listing
    assert "parser bug #42" in cli("events", "show", str(failed[0].id))
    assert {d[4] for d in snapshot(app).values()} == {"SENT", "DELIVERED"}

    monkeypatch.setattr(ses, "read_message", real_parse)  # the fix is deployed
    summary = cli("events", "replay", "--all-failed")
    assert "replayed 3, now processed 3, still failing 0" in summary

    after_replay = snapshot(app)
    statuses = {key[2]: state[4] for key, state in after_replay.items()}
    assert statuses == {"r1@example.com": "BOUNCED", "r2@example.com": "BOUNCED", "r3@example.com": "BOUNCED",
                        "r4@example.com": "DELIVERED", "r5@example.com": "DELIVERED"}

    assert "replayed 0, now processed 0, still failing 0" in cli("events", "replay", "--all-failed")
    assert snapshot(app) == after_replay

    cli("rebuild")
    assert snapshot(app) == after_replay


def random_history(rng: random.Random, deliveries: int) -> list[dict]:
    """Many deliveries, each with a random mix of SES events, shuffled together."""
    messages = []
    for n in range(deliveries):
        message_id, recipient = f"msg-{n}", f"user{n}@example.com"
        day = f"2026-11-{1 + n % 20:02d}"
        candidates = [
            for_message("event/send.json", message_id, [recipient]),
            for_message("event/delivery.json", message_id, [recipient],
                        delivery={"recipients": [recipient], "timestamp": f"{day}T10:00:01.000Z"}),
            for_message("event/delivery-delay.json", message_id, [recipient], deliveryDelay={
                "timestamp": f"{day}T09:00:00.000Z",
                "delayedRecipients": [{"emailAddress": recipient, "status": "4.4.7"}]}),
            bounce(message_id, recipient, rng.choice(["Permanent", "Transient", "Undetermined"]), f"fb-{n}",
                   f"{day}T11:00:00.000Z"),
            for_message("event/complaint.json", message_id, [recipient], complaint={
                "complainedRecipients": [{"emailAddress": recipient}], "feedbackId": f"c-{n}",
                "timestamp": f"{day}T12:00:00.000Z"}),
            for_message("event/open.json", message_id, [recipient], open={"timestamp": f"{day}T10:30:00.000Z"}),
            for_message("event/click.json", message_id, [recipient],
                        click={"timestamp": f"{day}T10:31:00.000Z", "link": f"https://example.com/{n}"}),
        ]
        picked = rng.sample(candidates, rng.randint(1, len(candidates)))
        messages += picked + rng.sample(picked, rng.randint(0, len(picked)))  # and some redeliveries
    rng.shuffle(messages)
    return messages


def test_rebuild_from_the_inbox_equals_incremental_processing_on_a_large_mixed_history(app, tenant):
    services = app.extensions["tracker"]
    messages = random_history(random.Random(7), deliveries=300)
    for start in range(0, len(messages), 97):  # arrivals in waves, processed in small batches
        store(app, tenant, *messages[start:start + 97])
        ingest.drain(services.db, services.confirmer, ingest.Settings(batch_size=13))
    incremental, ids = snapshot(app), identities(app)
    assert len(incremental) == 300
    assert len({state[4] for state in incremental.values()}) >= 5  # a genuinely mixed history

    full = operations.rebuild(services)
    assert (full.unreadable, full.deliveries, full.changed, full.removed) == (0, 300, 0, 0)
    assert (snapshot(app), identities(app)) == (incremental, ids)

    since = operations.rebuild(services, since=max(d for d in _updated(app)))
    assert since.rows > 0
    assert (snapshot(app), identities(app)) == (incremental, ids)


def _updated(app):
    with app.extensions["tracker"].db.session() as session:
        return list(session.scalars(select(Delivery.updated_at)))


def test_an_interrupted_replay_resumes_where_it_stopped(app, tenant, monkeypatch):
    services = app.extensions["tracker"]
    store(app, tenant, *[bounce(f"m{n}", f"r{n}@example.com", "Permanent", f"fb{n}", "2026-11-20T10:00:00.000Z")
                         for n in range(10)])
    monkeypatch.setattr(ses, "read_message", lambda *a, **k: (_ for _ in ()).throw(PayloadError("bug")))
    drain(app)
    monkeypatch.undo()
    monkeypatch.setattr(operations, "CHUNK", 3)

    def interrupt_after_first_chunk(done):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        operations.replay_matching(services, repository.EventFilter(), progress=interrupt_after_first_chunk)
    resumed = operations.replay_matching(services, repository.EventFilter())

    assert resumed.resumed
    assert (resumed.replayed, resumed.processed, resumed.still_failing) == (10, 10, 0)
    assert {state[4] for state in snapshot(app).values()} == {"BOUNCED"}


def test_discarding_records_why_and_who_and_replay_leaves_it(app, tenant, cli, monkeypatch):
    store(app, tenant, {"eventType": "Teleport", "mail": {"messageId": "m"}})
    drain(app)
    with app.extensions["tracker"].db.session() as session:
        [row] = session.scalars(select(InboxEvent))
    assert row.state == "failed"

    assert "discarded 1" in cli("events", "discard", str(row.id), "--reason", "test traffic from staging")
    assert "replayed 0" in cli("events", "replay", str(row.id))

    with app.extensions["tracker"].db.session() as session:
        row = session.get(InboxEvent, row.id)
    assert (row.state, row.discard_reason) == ("discarded", "test traffic from staging")
    assert row.discarded_by.startswith("cli:")


IDENTITY = ("id", "status_sequence", "reported_sequence", "created_at")


def identities(app) -> dict:
    """What a rebuild must leave alone: ids the APIs handed out, sequences subscribers and reports rely on."""
    with app.extensions["tracker"].db.session() as session:
        return {(d.account_id, d.message_id, d.recipient): tuple(getattr(d, c) for c in IDENTITY)
                for d in session.scalars(select(Delivery))}


def test_a_rebuild_keeps_ids_sequences_registrations_and_history_whose_raw_event_was_purged(app, tenant):
    services = app.extensions["tracker"]
    registered = app.test_client().post("/api/v1/messages", json={"message_id": "reg", "recipients": ["p@example.com"]},
                                        headers=tenant.auth)
    assert registered.status_code == 201
    store(app, tenant, *sends_and_outcomes())
    drain(app)
    with services.db.transaction() as session:  # an Infobip-style client has pulled m1's report
        session.execute(update(Delivery).where(Delivery.message_id == "m1").values(reported_sequence=2))
    # The raw events of m4 are past their account's raw retention; its deliveries are not.
    old = utcnow() - timedelta(days=10)
    with services.db.transaction() as session:
        m4_raw = select(DeliveryEvent.inbox_event_id).where(DeliveryEvent.message_id == "m4")
        session.execute(update(InboxEvent).where(InboxEvent.id.in_(m4_raw)).values(received_at=old))
        repository.set_retention(session, session.get(Account, tenant.account_id), raw_days=5, delivery_days=None)
    assert operations.purge(services, dry_run=False).raw_events == {"acme": 2}
    before, ids_before = snapshot(app), identities(app)
    subscribe(app, tenant)
    assert before[(tenant.account_id, "reg", "p@example.com")][4] == "PENDING"
    assert before[(tenant.account_id, "m4", "r4@example.com")][4] == "DELIVERED"

    operations.rebuild(services)
    assert (snapshot(app), identities(app)) == (before, ids_before)

    operations.rebuild(services, since=utcnow() - timedelta(days=1))
    assert (snapshot(app), identities(app)) == (before, ids_before)
    assert _queued_deliveries(app) == []  # nothing changed, so subscribers hear nothing


@pytest.mark.parametrize("stage", ["re-applying raw events", "recomputing deliveries"])
def test_an_interrupted_rebuild_resumes_and_ends_equal(app, tenant, monkeypatch, stage):
    services = app.extensions["tracker"]
    store(app, tenant, *random_history(random.Random(3), deliveries=40))
    drain(app)
    incremental, ids_before = snapshot(app), identities(app)
    monkeypatch.setattr(operations, "CHUNK", 7)
    stages, chunks = [], []

    def interrupt_after_two_chunks_of_the_stage(done):
        chunks.append(stages[-1])
        if chunks.count(stage) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        operations.rebuild(services, progress=interrupt_after_two_chunks_of_the_stage,
                           stage=lambda name, size: stages.append(name))
    resumed = operations.rebuild(services, stage=lambda name, size: stages.append(name))
    assert resumed.resumed and stages[-1] == "recomputing deliveries"
    assert (snapshot(app), identities(app)) == (incremental, ids_before)
    again = operations.rebuild(services)
    assert not again.resumed and (snapshot(app), identities(app)) == (incremental, ids_before)


def test_a_rebuild_after_a_parser_fix_corrects_statuses_and_drops_what_the_bug_made(app, tenant, cli, monkeypatch):
    real_parse = ses.read_message

    def buggy(message, **kwargs):  # reads bounces as nothing, and m2's recipient wrong
        if '"Bounce"' in message:
            return [], None
        return real_parse(message.replace("r2@example.com", "typo@example.com"), **kwargs)

    monkeypatch.setattr(ses, "read_message", buggy)
    store(app, tenant, *sends_and_outcomes())
    drain(app)
    before = identities(app)
    assert (tenant.account_id, "m2", "typo@example.com") in before
    monkeypatch.setattr(ses, "read_message", real_parse)

    subscribe(app, tenant)
    output = cli("rebuild")

    assert "6 deliveries recomputed, 3 changed, 1 removed" in output
    statuses = {key[1:]: state[4] for key, state in snapshot(app).items()}
    assert statuses == {("m1", "r1@example.com"): "BOUNCED", ("m2", "r2@example.com"): "BOUNCED",
                        ("m3", "r3@example.com"): "BOUNCED", ("m4", "r4@example.com"): "DELIVERED",
                        ("m5", "r5@example.com"): "DELIVERED"}
    after = identities(app)
    for message in ("m1", "m3"):  # the same delivery, one status change further on
        key = (tenant.account_id, message, f"r{message[1]}@example.com")
        assert after[key][0] == before[key][0] and after[key][1] == before[key][1] + 1
    for message in ("m4", "m5"):
        key = (tenant.account_id, message, f"r{message[1]}@example.com")
        assert after[key] == before[key]
    # Subscribers learn what the rebuild changed, and the delivery the fix revealed (its
    # sequence counts its two changes, SENT then BOUNCED, as processing them did for m1).
    queued = {(key[1], key[2], state[1]) for key, state in after.items() if state[0] in _queued_deliveries(app)}
    assert queued == {("m1", "r1@example.com", 2), ("m3", "r3@example.com", 2), ("m2", "r2@example.com", 2)}


def subscribe(app, tenant) -> None:
    with app.extensions["tracker"].db.transaction() as session:
        repository.create_subscription(session, account_id=tenant.account_id, url="https://app.example.com/hook",
                                       secret="whsec_test", statuses=[])


def _queued_deliveries(app) -> list[int]:
    with app.extensions["tracker"].db.session() as session:
        return list(session.scalars(select(WebhookEvent.delivery_id)))


def test_a_database_outage_is_retried_with_backoff_before_the_event_counts_as_failed(app, tenant, monkeypatch):
    """The database going away mid-batch (faked at the one call that writes deliveries) costs attempts, not events."""
    from sqlalchemy.exc import OperationalError

    services = app.extensions["tracker"]
    settings = dataclasses.replace(services.settings, max_attempts=3)
    real_merge, outage = repository.merge_deliveries, {"on": True}

    def merge_unless_away(session, changes, now):
        if outage["on"] and changes:
            raise OperationalError("INSERT INTO deliveries ...", {}, Exception("server closed the connection"))
        return real_merge(session, changes, now)

    monkeypatch.setattr(repository, "merge_deliveries", merge_unless_away)
    store(app, tenant, *[for_message("event/send.json", f"m{n}", [f"r{n}@example.com"]) for n in (1, 2)])

    def attempt() -> list[InboxEvent]:
        ingest.drain(services.db, services.confirmer, settings)
        with services.db.session() as session:
            return list(session.scalars(select(InboxEvent).order_by(InboxEvent.id)))

    def clock_passes_the_backoff():
        with services.db.transaction() as session:
            session.execute(update(InboxEvent).where(InboxEvent.next_attempt_at.is_not(None))
                            .values(next_attempt_at=utcnow() - timedelta(seconds=1)))

    first = attempt()
    assert [(r.state, r.attempts, r.failure_kind) for r in first] == [("pending", 1, "database")] * 2
    assert all(r.error.startswith("database error:") and r.first_failed_at == r.last_failed_at for r in first)
    assert all(r.next_attempt_at - r.last_failed_at == timedelta(seconds=5) for r in first)
    assert [r.attempts for r in attempt()] == [1, 1]  # not due yet: nothing is tried

    clock_passes_the_backoff()
    second = attempt()
    assert [(r.state, r.attempts) for r in second] == [("pending", 2)] * 2
    assert all(r.next_attempt_at - r.last_failed_at == timedelta(seconds=10) for r in second)
    assert all(r.first_failed_at == f.first_failed_at < r.last_failed_at for r, f in zip(second, first, strict=True))

    clock_passes_the_backoff()
    third = attempt()  # the budget is spent: failed, kept for an operator
    assert [(r.state, r.attempts, r.failure_kind, r.next_attempt_at) for r in third] == [
        ("failed", 3, "exhausted", None)] * 2

    outage["on"] = False  # the database is back
    summary = operations.replay_matching(services, repository.EventFilter())
    assert (summary.replayed, summary.processed, summary.still_failing) == (2, 2, 0)
    assert {state[4] for state in snapshot(app).values()} == {"SENT"}


def test_a_short_outage_ends_in_processed_events(app, tenant, monkeypatch):
    services = app.extensions["tracker"]
    real_merge, calls = repository.merge_deliveries, []

    def away_once(*args, **kwargs):
        calls.append(1)
        if len(calls) <= 1:  # the first attempt (a lone row is its own batch)
            from sqlalchemy.exc import OperationalError
            raise OperationalError("INSERT INTO deliveries ...", {}, Exception("server closed the connection"))
        return real_merge(*args, **kwargs)

    monkeypatch.setattr(repository, "merge_deliveries", away_once)
    store(app, tenant, for_message("event/send.json", "m1", ["r1@example.com"]))
    drain(app)
    with services.db.transaction() as session:
        [row] = session.scalars(select(InboxEvent))
        assert (row.state, row.attempts) == ("pending", 1)
        row.next_attempt_at = utcnow() - timedelta(seconds=1)  # the clock passes the backoff
    drain(app)
    with services.db.session() as session:
        [row] = session.scalars(select(InboxEvent))
    assert (row.state, row.attempts, row.error, row.failure_kind) == ("processed", 1, None, None)
    assert {state[4] for state in snapshot(app).values()} == {"SENT"}


def test_events_list_filters_and_show_tells_the_whole_story(app, tenant, cli, monkeypatch):
    from tests.support.harness import make_tenant
    from tests.support.sns_signing import DEFAULT_TOPIC_ARN

    services = app.extensions["tracker"]
    other = make_tenant(app, "other", [DEFAULT_TOPIC_ARN])
    real_parse = ses.read_message
    monkeypatch.setattr(ses, "read_message", lambda *a, **k: (_ for _ in ()).throw(PayloadError("bug #9 here")))
    store(app, tenant, bounce("m1", "r1@example.com", "Permanent", "fb1", "2026-11-20T10:00:00.000Z"))
    store(app, other, bounce("m2", "r2@example.com", "Permanent", "fb2", "2026-11-20T10:00:00.000Z"))
    with services.db.transaction() as session:
        repository.store_inbox_event(session.connection(), source_id=None, account_id=tenant.account_id,
                                     provider="sendgrid", kind=inbox.WEBHOOK, dedupe_key="sg-1", body="not json")
    drain(app)
    with services.db.session() as session:
        ids = {(row.account_id, row.provider): row.id for row in session.scalars(select(InboxEvent))}
    ses_acme, ses_other, sendgrid = ids[(tenant.account_id, "ses")], ids[(other.account_id, "ses")], ids[
        (tenant.account_id, "sendgrid")]

    def listed(*options) -> set[int]:
        table = cli("events", "list", *options)
        return {int(line.split("│")[1]) for line in table.splitlines() if line.startswith("│")}

    assert listed() == {ses_acme, ses_other, sendgrid}
    assert listed("--account", "acme") == {ses_acme, sendgrid}
    assert listed("--provider", "sendgrid") == {sendgrid}
    assert listed("--error-contains", "BUG #9") == {ses_acme, ses_other}
    assert listed("--since", (utcnow() + timedelta(hours=1)).isoformat()) == set()
    assert listed("--state", "processed") == set()

    monkeypatch.setattr(ses, "read_message", real_parse)  # fixed; replay the matching ones only
    summary = cli("events", "replay", "--filter", "--account", "acme", "--provider", "ses")
    assert "replayed 1, now processed 1, still failing 0" in summary
    assert listed() == {ses_other, sendgrid}
    assert listed("--state", "replayed") == {ses_acme}

    shown = cli("events", "show", str(ses_acme))
    assert "state processed" in shown and "replayed 1 time(s)" in shown
    assert '"eventType": "Bounce"' in shown  # the SNS envelope's Message, decoded and indented
    assert "touched delivery" in shown and "m1 r1@example.com BOUNCED" in shown
    failing = cli("events", "show", str(sendgrid))
    assert "state failed attempts 1" in failing and "error (parse)" in failing and "failed first" in failing


def test_an_interrupted_rebuild_tells_the_operator_how_to_resume(app, tenant, pg_url, pki, monkeypatch):
    store(app, tenant, *sends_and_outcomes())
    drain(app)
    from rich.progress import Progress

    monkeypatch.setattr(operations, "CHUNK", 2)

    def ctrl_c_after_one_chunk(self, task, advance):
        raise KeyboardInterrupt

    monkeypatch.setattr(Progress, "advance", ctrl_c_after_one_chunk)
    result = CliRunner().invoke(main, ["rebuild"], env={"TRACKER_DATABASE_URL": pg_url, "TRACKER_BROKER_URL": "",
                                                        "TRACKER_SNS_CERT_DIR": str(pki.directory)})
    assert result.exit_code == 1 and "run the same command again to resume" in result.output
    monkeypatch.undo()
    resumed = operations.rebuild(app.extensions["tracker"])
    assert resumed.resumed and resumed.rows == 10
