"""A worker's claim reads about its batch's rows, however many rows are pending or processed and
whatever PostgreSQL's statistics say of them.

Draining a backlog is a claim per batch: a claim that read every pending row (a bitmap scan
of the pending rows, sorted by id) or every processed one before them (the primary key
filtered by state) would make draining N rows cost N * N / batch. The table's statistics
decide between those plans, and they are often wrong for the inbox: never gathered on a new
database (autovacuum analyzes late, or not at all where it is off), or gathered before a
backlog arrived or while one was pending. Counted in the buffers the claims ask for
(pg_stat_get_xact_blocks_fetched), not in time.
"""
from __future__ import annotations

import pytest

from tracker.db import repository
from tracker.db.engine import Database
from tracker.db.models import utcnow
from tests.support.database import throwaway_database

ROWS = 3000  # processed, then as many pending: about 600 heap pages each
BATCH = 20
CLAIMS = 10
BODY = "x" * 1500  # about the size of an SES notification in its SNS envelope


@pytest.fixture
def fresh_db():
    """A database of this test's own, so that its inbox's statistics are only what the test made."""
    with throwaway_database("tracker_claim") as url:
        db = Database(url)
        yield db
        db.dispose()


def _receive(db: Database, name: str) -> None:
    """ROWS pending rows for a new account."""
    with db.transaction() as session:
        account = repository.create_account(session, name)
        source = repository.create_source(session, account, "ses")
        session.connection().exec_driver_sql(
            "INSERT INTO inbox_events (account_id, source_id, provider, kind, dedupe_key, body, received_at, state,"
            " attempts) SELECT %(account)s, %(source)s, 'ses', 'notification', 'key-' || n, %(body)s, now(),"
            " 'pending', 0 FROM generate_series(1, %(rows)s) AS n",
            {"account": account.id, "source": source.id, "body": BODY, "rows": ROWS})


def _process_all(db: Database) -> None:
    """Mark every row processed, then vacuum: the processed rows are live rows, no dead index entries."""
    with db.transaction() as session:
        ids = list(session.connection().exec_driver_sql("SELECT id FROM inbox_events").scalars())
        repository.mark_processed(session, ids, utcnow())
    _run(db, "VACUUM inbox_events")


def _run(db: Database, sql: str) -> None:
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(sql)


def _inbox_blocks(session) -> int:
    """Buffers this transaction has asked for, of the inbox's table and indexes."""
    return session.connection().exec_driver_sql(
        "SELECT sum(pg_stat_get_xact_blocks_fetched(c.oid)) FROM pg_class c"
        " WHERE c.oid = 'inbox_events'::regclass"
        " OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = 'inbox_events'::regclass)").scalar()


def _claims(db: Database) -> list[int]:
    """Claim and mark CLAIMS batches, as the worker does: each claim's buffers."""
    per_claim, claimed = [], []
    for _ in range(CLAIMS):
        with db.transaction() as session:
            before = _inbox_blocks(session)
            rows = repository.claim_pending(session, BATCH)
            per_claim.append(_inbox_blocks(session) - before)
            repository.mark_processed(session, [row.id for row in rows], utcnow())
        claimed.extend(row.id for row in rows)
    with db.transaction() as session:
        pending = session.connection().exec_driver_sql(
            "SELECT id FROM inbox_events WHERE state = 'pending' ORDER BY id").scalars().all()
    assert claimed == sorted(claimed) and len(claimed) == CLAIMS * BATCH
    assert claimed[-1] < pending[0], "claimed oldest first"
    return per_claim


def _assert_each_reads_about_its_batch(per_claim: list[int]) -> None:
    # Its rows' heap pages, a few index pages, and at most the entries of the rows the claims
    # before it processed (marked dead by a scan unless an old snapshot, anywhere on the
    # server, holds them back): reading the backlog or the processed rows would be ~600.
    assert max(per_claim) < 6 * BATCH, per_claim


def test_claims_on_a_database_never_analyzed(fresh_db):
    _receive(fresh_db, "first")
    _process_all(fresh_db)
    _receive(fresh_db, "backlog")
    _assert_each_reads_about_its_batch(_claims(fresh_db))


def test_claims_analyzed_before_the_backlog_arrived(fresh_db):
    # The statistics of a long-lived inbox: nearly every row processed (the plan was right here before).
    _receive(fresh_db, "first")
    _process_all(fresh_db)
    _run(fresh_db, "ANALYZE inbox_events")
    _receive(fresh_db, "backlog")
    _assert_each_reads_about_its_batch(_claims(fresh_db))


def test_claims_analyzed_with_the_backlog_pending(fresh_db):
    _receive(fresh_db, "first")
    _process_all(fresh_db)
    _receive(fresh_db, "backlog")
    _run(fresh_db, "ANALYZE inbox_events")
    _assert_each_reads_about_its_batch(_claims(fresh_db))

