"""The locks that serialize writers of one message stay few per transaction, whatever a batch names,
and still exclude each other: a batch naming thousands of messages takes one lock over them all.

PostgreSQL keeps every lock in one shared table (max_locks_per_transaction times
max_connections); a worker taking one lock per message of a batch of SendGrid posts would fill it
and make every other session's statements fail. tracker.db.repository.locks says how.
"""
from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import OperationalError

from tests.support.lock_waits import until_a_session_waits_on_a_lock
from tracker.db import repository
from tracker.db.models import InboxEvent
from tracker.db.repository.locks import MOST_EACH
from tracker.pipeline import ingest

pytestmark = pytest.mark.integration

_MINE = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")


def messages(count: int, first: int = 0) -> list[tuple[int, str]]:
    return [(1, f"m-{n}") for n in range(first, first + count)]


def test_a_transaction_naming_more_messages_than_its_share_holds_one_lock_not_thousands(pg_db):
    with pg_db.transaction() as session:
        repository.lock_messages(session, messages(5000))
        assert session.execute(_MINE).scalar() == 1
    with pg_db.transaction() as session:
        repository.lock_messages(session, messages(10))
        assert session.execute(_MINE).scalar() == 11  # each message's, and the one over all, shared
    with pg_db.transaction() as session:
        repository.lock_messages(session, messages(MOST_EACH))
        assert session.execute(_MINE).scalar() == MOST_EACH + 1


@pytest.mark.parametrize("first_takes", [10, 5000], ids=["few-first", "thousands-first"])
def test_a_transaction_naming_thousands_of_messages_and_one_naming_a_few_of_them_exclude_each_other(
        pg_db, first_takes):
    second_takes = 5000 if first_takes == 10 else 10
    holder, waiter = pg_db.session(), pg_db.session()
    try:
        repository.lock_messages(holder, messages(first_takes, first=3))
        waiter.execute(text("SET lock_timeout = '300ms'"))
        with pytest.raises(OperationalError, match="lock timeout"):
            repository.lock_messages(waiter, messages(second_takes))
        waiter.rollback()
        holder.commit()  # the first one done: the second takes its locks at once
        repository.lock_messages(waiter, messages(second_takes))
        waiter.commit()
    finally:
        holder.close()
        waiter.close()


def test_transactions_naming_other_messages_do_not_wait_for_each_other(pg_db):
    holder, other = pg_db.session(), pg_db.session()
    try:
        repository.lock_messages(holder, messages(10))
        other.execute(text("SET lock_timeout = '300ms'"))
        repository.lock_messages(other, messages(10, first=100))  # no timeout: nothing shared
        other.commit()
        holder.commit()
    finally:
        holder.close()
        other.close()


# --- a batch takes its locks at once, not one group after another --------------------------------


def _ses_row(app, tenant, pki, name: str, message_id: str, sns_id: str) -> int:
    """One SES event about ``message_id`` stored through the receiver; its inbox row's id."""
    from tests.support.ses_events import for_message
    from tests.support.sns_signing import notification
    from tracker.db.models import InboxEvent

    event = for_message(name, message_id, ["someone@example.com"])
    answer = app.test_client().post(tenant.hook, data=json.dumps(pki.sign(notification(event, message_id=sns_id))))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    with app.extensions["tracker"].db.session() as session:
        return session.scalar(select(func.max(InboxEvent.id)))


def test_two_batches_each_retrying_a_row_of_the_others_message_both_apply_without_a_deadlock(
        app, tenant, pki, monkeypatch):
    """A batch applies its new rows together and each retried row alone (ingest._process). Were each
    group to take its locks when applied, a batch holding message A's lock (its new rows) and waiting
    for B's (a retried row) would meet one holding B's and waiting for A's: PostgreSQL ends one with
    "deadlock detected" after a second, and that row counts a failed attempt for nothing."""
    services = app.extensions["tracker"]
    first = [_ses_row(app, tenant, pki, "event/send.json", "msg-a", "sns-1"),
             _ses_row(app, tenant, pki, "event/delivery.json", "msg-b", "sns-2")]
    second = [_ses_row(app, tenant, pki, "event/send.json", "msg-b", "sns-3"),
              _ses_row(app, tenant, pki, "event/delivery.json", "msg-a", "sns-4")]
    with services.db.transaction() as session:  # each batch's second row failed once before: applied alone
        session.execute(update(InboxEvent).where(InboxEvent.id.in_([first[1], second[1]])).values(attempts=1))

    # The second batch stops after its first group, holding what it took, until the first batch waits.
    applied_one_group, go_on = threading.Event(), threading.Event()
    apply_group = ingest._apply_group

    def paused(session, group, *args, **kwargs):
        apply_group(session, group, *args, **kwargs)
        if threading.current_thread().name == "second" and not applied_one_group.is_set():
            applied_one_group.set()
            assert go_on.wait(60)

    monkeypatch.setattr(ingest, "_apply_group", paused)
    results = {}

    def batch(name: str, ids: list[int]) -> None:
        results[name] = ingest.process_rows(services.db, ids, services.confirmer, services.settings)

    second_batch = threading.Thread(target=batch, args=("second", second), name="second")
    second_batch.start()
    assert applied_one_group.wait(60)
    first_batch = threading.Thread(target=batch, args=("first", first), name="first")
    first_batch.start()
    until_a_session_waits_on_a_lock(services.db, first_batch)  # for a lock the second batch holds
    go_on.set()
    second_batch.join(60)
    first_batch.join(60)

    assert {name: (result.processed, result.failed, result.retrying) for name, result in results.items()} == {
        "first": (2, 0, 0), "second": (2, 0, 0)}
    with services.db.session() as session:
        assert set(session.scalars(select(InboxEvent.state).where(InboxEvent.id.in_(first + second)))) == {
            "processed"}
