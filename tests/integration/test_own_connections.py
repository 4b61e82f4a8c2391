"""The receivers' own connections (tracker.db.raw.OwnConnections), on PostgreSQL.

Each thread keeps one connection outside the pool for its one-statement writes. What the
pool guaranteed must still hold: one that died fails one statement and is replaced, none
outlives its recycle age, dispose() leaves none open, and a forked process never closes
its parent's.
"""
import os
import threading

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from tracker.db.engine import Database


def backend_pid(db: Database) -> int:
    with db.statement() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def sessions_of(pg_url: str, pids) -> int:
    other = sa.create_engine(pg_url)
    with other.connect() as connection:
        found = connection.execute(sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids)"),
                                   {"pids": list(pids)}).scalar()
    other.dispose()
    return found


@pytest.fixture
def db(pg_url):
    database = Database(pg_url)
    yield database
    database.dispose()


def test_a_thread_keeps_its_connection_and_each_thread_has_its_own(db):
    mine = [backend_pid(db), backend_pid(db)]
    theirs = []
    thread = threading.Thread(target=lambda: theirs.extend([backend_pid(db), backend_pid(db)]))
    thread.start()
    thread.join()

    assert mine[0] == mine[1]
    assert theirs[0] == theirs[1]
    assert theirs[0] != mine[0]


def test_one_that_died_fails_one_statement_as_sqlalchemys_error_and_the_next_reconnects(db, pg_url):
    first = backend_pid(db)
    other = sa.create_engine(pg_url)
    with other.begin() as connection:
        connection.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    other.dispose()

    with pytest.raises(DBAPIError) as failure:
        backend_pid(db)

    assert failure.value.connection_invalidated
    assert backend_pid(db) not in (first, None)


def test_a_failed_statement_leaves_the_connection_usable(db):
    first = backend_pid(db)
    with pytest.raises(DBAPIError), db.statement() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1 / 0")

    assert backend_pid(db) == first  # autocommit: nothing was left open to roll back


def test_none_outlives_its_recycle_age(db):
    first = backend_pid(db)
    db._own._recycle = 0.0  # every connection made from now on is already old
    db._own._local.own.expires = 0.0

    assert backend_pid(db) != first


def test_dispose_closes_every_threads_connection(db, pg_url):
    pids = [backend_pid(db)]
    thread = threading.Thread(target=lambda: pids.append(backend_pid(db)))
    thread.start()
    thread.join()
    assert sessions_of(pg_url, pids) == 2

    db.dispose()

    assert sessions_of(pg_url, pids) == 0
    assert backend_pid(db) not in pids  # and the thread reconnects when next asked


def test_a_forked_process_makes_its_own_and_leaves_the_parents_open(db):
    parent = backend_pid(db)
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            code = 0 if backend_pid(db) != parent else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)

    assert os.waitstatus_to_exitcode(status) == 0
    assert backend_pid(db) == parent  # still open and still this process's
