"""Migrations: one head, and the migrated schema is exactly what the models declare."""
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from tracker.db import migrate
from tracker.db.models import Base

EXPECTED_HEAD = "0008"  # bump with every new migration: two heads or a forgotten one fail here


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
