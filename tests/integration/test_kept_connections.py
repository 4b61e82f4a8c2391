"""The receivers' kept connections (tracker.db.kept_connections), on PostgreSQL.

A one-statement write takes an idle kept connection and puts it back, outside the pool.
What the pool guaranteed must still hold: requests one after another share one connection,
requests at once each have their own, a server with a thread per request does not leave a
connection per request behind, one the server ended while idle (a restart) is replaced when taken
and fails nothing, one that died unannounced fails one statement and is replaced (not one statement
per idle connection), none outlives its recycle age,
dispose() leaves none open, and a forked process never closes its parent's.
"""
import os
import threading
import time

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from tracker.db import kept_connections
from tracker.db.engine import Database


def backend_pid(db: Database) -> int:
    with db.statement() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def open_sessions(pg_url: str, pids) -> int:
    other = sa.create_engine(pg_url)
    with other.connect() as connection:
        found = connection.execute(sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids)"),
                                   {"pids": list(pids)}).scalar()
    other.dispose()
    return found


def sessions_left(pg_url: str, pids, down_to: int = 0, within: float = 10.0) -> int:
    """open_sessions once the backends of connections just closed have had time to go (until no
    more than ``down_to`` are left): a backend leaves pg_stat_activity when it exits, a moment after
    the client's close (longer on a loaded machine). One left open is still counted at the end."""
    deadline = time.monotonic() + within
    while (found := open_sessions(pg_url, pids)) > down_to and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def in_another_thread(db: Database, release: threading.Event) -> tuple[threading.Thread, list[int]]:
    """A thread whose statement stays open until ``release`` is set; its backend's pid once it runs."""
    pids: list[int] = []
    running = threading.Event()

    def hold():
        with db.statement() as connection, connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pids.append(cursor.fetchone()[0])
            running.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    assert running.wait(10)
    return thread, pids


@pytest.fixture
def db(pg_url):
    database = Database(pg_url)
    yield database
    database.dispose()


def test_statements_one_after_another_share_a_connection_and_statements_at_once_do_not(db):
    first, again = backend_pid(db), backend_pid(db)
    release = threading.Event()
    thread, theirs = in_another_thread(db, release)
    meanwhile = backend_pid(db)
    release.set()
    thread.join()

    assert first == again
    assert len({theirs[0], meanwhile}) == 2


def test_a_thread_per_request_server_leaves_no_connection_per_request(db, pg_url):
    pids: list[int] = []
    for _ in range(20):  # as werkzeug's threaded server (tracker run) serves: a new thread each time
        thread = threading.Thread(target=lambda: pids.append(backend_pid(db)))
        thread.start()
        thread.join()

    assert len(set(pids)) == 1
    assert open_sessions(pg_url, pids) == 1


def test_no_more_than_keep_stay_idle(db, pg_url):
    release = threading.Event()
    held = [in_another_thread(db, release) for _ in range(kept_connections.KEEP + 2)]
    release.set()
    for thread, _pids in held:
        thread.join()

    pids = [pids[0] for _thread, pids in held]
    assert sessions_left(pg_url, pids, down_to=kept_connections.KEEP) == kept_connections.KEEP


def test_one_that_died_unannounced_fails_one_statement_as_sqlalchemys_error_and_the_next_reconnects(
        db, pg_url, unannounced_deaths):
    first = backend_pid(db)
    other = sa.create_engine(pg_url)
    with other.begin() as connection:
        connection.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    other.dispose()

    with pytest.raises(DBAPIError) as failure:
        backend_pid(db)

    assert failure.value.connection_invalidated
    assert backend_pid(db) != first


def test_after_unannounced_deaths_one_statement_fails_not_one_per_idle_connection(db, pg_url, unannounced_deaths):
    release = threading.Event()
    held = [in_another_thread(db, release) for _ in range(3)]
    release.set()
    for thread, _pids in held:
        thread.join()
    pids = [pids[0] for _thread, pids in held]
    assert open_sessions(pg_url, pids) == 3  # three idle ones
    other = sa.create_engine(pg_url)
    with other.begin() as connection:  # as a restart does
        connection.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = ANY(:p)"),
                           {"p": pids})
    other.dispose()

    with pytest.raises(DBAPIError):
        backend_pid(db)

    assert backend_pid(db) not in pids  # the next one connects anew


def test_after_a_database_restart_no_statement_fails_the_ended_ones_are_replaced(db, pg_url):
    """A server ending its sessions (a restart, pg_terminate_backend) tells each client first: the idle
    connections it ended are replaced when taken (tracker.db.liveness), and no statement fails."""
    release = threading.Event()
    held = [in_another_thread(db, release) for _ in range(3)]
    release.set()
    for thread, _pids in held:
        thread.join()
    pids = [pids[0] for _thread, pids in held]
    other = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with other.connect() as connection:
        connection.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = ANY(:p)"),
                           {"p": pids})
    other.dispose()
    assert sessions_left(pg_url, pids) == 0  # each told its client before it left

    assert backend_pid(db) not in pids


def test_a_database_it_cannot_reach_is_sqlalchemys_error(pg_url):
    unreachable = Database(sa.make_url(pg_url).set(host="127.0.0.1", port=1).render_as_string(hide_password=False))

    with pytest.raises(DBAPIError):
        backend_pid(unreachable)


def test_a_failed_statement_leaves_the_connection_usable(db):
    first = backend_pid(db)
    with pytest.raises(DBAPIError), db.statement() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1 / 0")

    assert backend_pid(db) == first  # autocommit: nothing was left open to roll back


def test_an_interrupted_statement_never_hands_its_connection_on(db):
    first = backend_pid(db)
    with pytest.raises(KeyboardInterrupt), db.statement():
        raise KeyboardInterrupt

    assert backend_pid(db) != first


def test_none_outlives_its_recycle_age(db):
    born_old = kept_connections.KeptConnections({}, recycle=0.0)

    def pid() -> int:
        with born_old.statement(db.engine) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return cursor.fetchone()[0]

    try:
        assert pid() != pid()
    finally:
        born_old.close()


def test_dispose_closes_the_idle_ones_at_once_and_one_in_use_when_its_statement_ends(db, pg_url):
    release = threading.Event()
    thread, in_use = in_another_thread(db, release)
    idle = backend_pid(db)  # made meanwhile, and back in the list

    db.dispose()
    assert sessions_left(pg_url, [idle]) == 0
    release.set()
    thread.join()

    assert sessions_left(pg_url, [idle, *in_use]) == 0
    assert backend_pid(db) not in (idle, *in_use)  # and the next statement connects anew


def test_a_fork_inside_a_statement_leaves_the_parents_connection_open(db):
    pid = backend_pid(db)
    with db.statement():  # the same connection, taken again
        child = os.fork()
    if child == 0:  # pragma: no cover - the child left the block as the parent did, then ends
        os._exit(0)
    _, status = os.waitpid(child, 0)

    assert os.waitstatus_to_exitcode(status) == 0
    assert backend_pid(db) == pid  # the child's end of the statement did not end the parent's session


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
