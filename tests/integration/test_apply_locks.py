"""The locks that serialize writers of one message stay few per transaction, whatever a batch names,
and still exclude each other: a batch naming thousands of messages takes one lock over them all.

PostgreSQL keeps every lock in one shared table (max_locks_per_transaction times
max_connections); a worker taking one lock per message of a batch of SendGrid posts would fill it
and make every other session's statements fail. tracker.db.repository.locks says how.
"""
from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from tracker.db import repository
from tracker.db.repository.locks import MOST_EACH

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
