"""Waiting, in a test, until another session of the database waits on a lock."""
from __future__ import annotations

import threading

from sqlalchemy import text

_WAITING = text("SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")


def until_a_session_waits_on_a_lock(db, thread: threading.Thread) -> None:
    """Return once some session of ``db``'s database waits on a lock, or ``thread`` has ended.

    For tests that hold a transaction open and need the other one (run by ``thread``) to have reached
    its lock before they let the first go on: the interleaving the test is about is then certain.
    """
    with db.session() as watcher:
        while thread.is_alive() and not watcher.execute(_WAITING).first():
            thread.join(0.01)
            watcher.rollback()
