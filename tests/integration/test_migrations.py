"""Migrations: one head, and the migrated schema is exactly what the models declare."""
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from tracker.db import migrate
from tracker.db.models import Base
from datetime import UTC

EXPECTED_HEAD = "0017_dashboard_signouts"  # bump with every new migration: two heads or a forgotten one fail here


def test_single_expected_head():
    assert migrate.head_revision() == EXPECTED_HEAD


def test_models_match_the_migrated_postgresql_schema(pg_db):
    with pg_db.engine.connect() as connection:
        assert migrate.current_revision(pg_db.engine) == EXPECTED_HEAD
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_migrations_run_on_the_sqlite_default(tmp_path):
    from tracker.db.engine import Database

    db = Database(f"sqlite:///{tmp_path}/t.db")
    migrate.upgrade(db.engine)
    assert migrate.current_revision(db.engine) == EXPECTED_HEAD
    with db.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


# --- 0009: the winner's type and the winning failure on the delivery row --------------------

def _history_before_0009():
    """An acknowledged delivery whose history holds a reject and a later bounce, and a complaint."""
    from datetime import datetime

    from tracker.domain import BounceType, EventType, NormalizedEvent

    at = datetime(2026, 12, 4, 17, 6, 48, 123456, tzinfo=UTC)

    def event(kind, seconds, key, recipient="a@example.com", **facts):
        from datetime import timedelta

        return NormalizedEvent(provider="ses", message_id="m-1", recipient=recipient, type=kind,
                               occurred_at=at + timedelta(seconds=seconds), event_key=key, **facts)

    acknowledged = [event(EventType.SENT, 0, "send"), event(EventType.REJECTED, 1, "reject", diagnostic="no"),
                    event(EventType.BOUNCED, 2, "bounce|1", bounce_type=BounceType.PERMANENT, bounce_subtype="General",
                          diagnostic="smtp; 550 5.1.1 user unknown", smtp_action="failed", smtp_status="5.1.1"),
                    event(EventType.ACKNOWLEDGED, 3, "ack")]
    complained = [event(EventType.DELIVERED, 0, "delivered", "b@example.com"),
                  event(EventType.COMPLAINED, 5, "complaint", "b@example.com")]
    return acknowledged, complained


def _fill_0008(engine, histories) -> None:
    from tracker.db.models import Account, Delivery, DeliveryEvent, utcnow
    from tracker.domain import fold

    with engine.begin() as connection:
        account_id = connection.execute(Account.__table__.insert().values(name="acme", created_at=utcnow())
                                        .returning(Account.__table__.c.id)).scalar()
        for events in histories:
            state = fold(events)
            connection.execute(Delivery.__table__.insert().values(
                account_id=account_id, provider="ses", message_id="m-1", recipient=events[0].recipient,
                status=state.status.value, precedence=state.precedence, status_at=state.status_at,
                events_count=len(events), created_at=utcnow(), updated_at=utcnow()))
            for e in events:
                connection.execute(DeliveryEvent.__table__.insert().values(
                    account_id=account_id, message_id=e.message_id, recipient=e.recipient, event_key=e.event_key,
                    type=e.type.value, status=e.status.value if e.status else None, occurred_at=e.occurred_at,
                    bounce_type=e.bounce_type.value if e.bounce_type else None, bounce_subtype=e.bounce_subtype,
                    diagnostic=e.diagnostic, smtp_action=e.smtp_action, smtp_status=e.smtp_status, details={},
                    recorded_at=utcnow()))


def _check_0009_backfill(engine, histories) -> None:
    from sqlalchemy import select

    from tracker.db import repository
    from tracker.db.models import Delivery
    from tracker.domain import fold

    with engine.connect() as connection:
        rows = {row.recipient: row for row in connection.execute(select(Delivery))}
    for events in histories:
        assert repository.state_of(rows[events[0].recipient]) == fold(events)


def test_0009_fills_the_failure_and_the_winners_type_from_the_history_on_postgresql():
    from tests.support.database import throwaway_database
    from tracker.db.engine import Database

    histories = _history_before_0009()
    with throwaway_database("tracker_migration", revision="0008") as url:
        db = Database(url)
        _fill_0008(db.engine, histories)
        migrate.upgrade(db.engine)
        _check_0009_backfill(db.engine, histories)
        db.dispose()


def test_0009_fills_the_failure_and_the_winners_type_from_the_history_on_sqlite(tmp_path):
    from tracker.db.engine import Database

    histories = _history_before_0009()
    db = Database(f"sqlite:///{tmp_path}/t.db")
    migrate.upgrade(db.engine, "0008")
    _fill_0008(db.engine, histories)
    migrate.upgrade(db.engine)
    _check_0009_backfill(db.engine, histories)


# --- 0011: the delivery statistics, counted from the existing deliveries ----------------------

def _stats_rows(engine) -> list[tuple]:
    from sqlalchemy import select

    from tracker.db.models import DeliveryStat

    with engine.connect() as connection:
        return sorted(tuple(row) for row in connection.execute(select(DeliveryStat.__table__)))


def _check_0011(db) -> None:
    """The migration's count equals a recount (rebuild_stats) and has every delivery in it."""
    from tracker.db import repository

    migrated = _stats_rows(db.engine)
    assert [(row[4], row[5], row[6]) for row in migrated] == [("ACKNOWLEDGED", "hard_bounce", 1),
                                                             ("COMPLAINT", "complaint", 1)]
    with db.transaction() as session:
        repository.rebuild_stats(session)
    assert _stats_rows(db.engine) == migrated


def test_0011_counts_the_existing_deliveries_on_postgresql():
    from tests.support.database import throwaway_database
    from tracker.db.engine import Database

    histories = _history_before_0009()
    with throwaway_database("tracker_migration", revision="0008") as url:
        db = Database(url)
        _fill_0008(db.engine, histories)
        migrate.upgrade(db.engine)
        _check_0011(db)
        db.dispose()


def test_0011_counts_the_existing_deliveries_on_sqlite(tmp_path):
    from tracker.db.engine import Database

    db = Database(f"sqlite:///{tmp_path}/t.db")
    migrate.upgrade(db.engine, "0008")
    _fill_0008(db.engine, _history_before_0009())
    migrate.upgrade(db.engine)
    _check_0011(db)


# --- 0015: raw events' bodies compressed with lz4 ---------------------------------------------

def test_0015_a_received_notification_with_headers_is_kept_whole_compressed_with_lz4(app, tenant, pki, pg_db):
    """The AWS documentation's bounce with headers, in its SNS envelope, passes the size at which
    PostgreSQL compresses a row; it is stored with lz4 (on a server that offers it) and reads back
    byte for byte."""
    import json
    from pathlib import Path

    from sqlalchemy import text

    from tests.support.sns_signing import notification

    sample = Path(__file__).parents[1] / "fixtures/ses/aws-docs/notification-bounce-with-dsn.json"
    body = json.dumps(pki.sign(notification(json.loads(sample.read_text()))))
    assert len(body) > 2100  # past TOAST_TUPLE_THRESHOLD (about 2 KB): PostgreSQL compresses it
    response = app.test_client().post(f"/hooks/sns/{tenant.token}", data=body,
                                      headers={"Content-Type": "text/plain; charset=UTF-8"})
    assert response.status_code == 200, response.get_data(as_text=True)
    with pg_db.engine.connect() as connection:
        offered = connection.execute(text(
            "SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")).scalar()
        stored, method = connection.execute(text(
            "SELECT body, pg_column_compression(body) FROM inbox_events WHERE account_id = :a"),
            {"a": tenant.account_id}).one()
    assert stored == body
    assert method == ("lz4" if "lz4" in offered else "pglz")
