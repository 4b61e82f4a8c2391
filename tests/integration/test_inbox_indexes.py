"""The worker, the sweep, the dashboard and the operators find rows by state through an index, on PostgreSQL and SQLite.

The inbox keeps every event ever received, nearly all of them processed: a claim (each
batch), the sweep (every few seconds) or the oldest pending row that read the table, or
its primary key with a filter, would read the whole inbox each time.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event

from tracker.db import migrate, repository
from tracker.db.engine import Database
from tracker.db.models import utcnow
from tracker.db.repository.operations import EventFilter
from tests.support.plans import plan_without_seqscan, reads_into


def pending_reads(session):
    """Every read of the rows in a state other than processed: the worker's, the sweep's, the
    dashboard's and the operators' (lists, counts and the ids a bulk replay walks)."""
    now = utcnow()
    repository.claim_pending(session, 500, now)
    repository.has_due_pending(session, now=now, received_before=now - timedelta(seconds=5))
    repository.oldest_pending_received_at(session)
    repository.pending_events(session, EventFilter())
    repository.oldest_pending_of_account(session, 1)
    repository.failed_count(session, 1)
    for where in (EventFilter(state="pending"), EventFilter(state="failed"), EventFilter(state="discarded"),
                  EventFilter(state="pending", account_id=1)):
        repository.list_inbox_events(session, where)
        repository.count_inbox_events(session, where)
        repository.inbox_ids(session, where, after_id=0, limit=100)


READS = 18


def captured_reads(db: Database) -> list[tuple[str, object]]:
    captured = []
    capture = reads_into(captured)
    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        with db.transaction() as session:
            pending_reads(session)
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    reads = [(statement, parameters) for statement, parameters in captured if "inbox_events" in statement]
    assert len(reads) == READS, reads
    return reads


# Both hold only the rows not processed: either way the processed ones are never read.
UNPROCESSED_INDEXES = ("ix_inbox_events_state_id", "ix_inbox_events_account_state_id")


def test_on_postgresql_each_finds_its_rows_by_a_state_index(pg_db):
    for statement, parameters in captured_reads(pg_db):
        plan = plan_without_seqscan(pg_db, statement, parameters)
        assert any(f"using {index} on inbox_events" in plan for index in UNPROCESSED_INDEXES), plan
        condition = plan.partition("Index Cond:")[2].partition("\n")[0]
        # (the claim names the pending state as a range: tests/integration/test_inbox_claim_reads.py)
        assert any(term in condition for term in ("(state)::text = ", "(state = ", "(state)::text >= 'pending'")), plan


@pytest.fixture
def sqlite_db(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/inbox.db")
    migrate.upgrade(db.engine)
    yield db
    db.dispose()


def test_on_sqlite_each_finds_its_rows_by_a_state_index(sqlite_db):
    # SQLite uses a partial index only where the query spells its predicate out.
    for statement, parameters in captured_reads(sqlite_db):
        with sqlite_db.engine.connect() as connection:
            plan = " | ".join(str(row[-1]) for row in connection.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + statement, tuple(parameters)))
        assert any(f"INDEX {index} (" in plan and "state=?" in plan for index in UNPROCESSED_INDEXES), \
            (statement, plan)
