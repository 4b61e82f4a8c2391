"""Throwaway PostgreSQL databases, migrated to head: for the test session and for bench/."""
from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import sqlalchemy as sa

ADMIN_URL = os.environ.get("TRACKER_TEST_ADMIN_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


@contextlib.contextmanager
def throwaway_database(prefix: str, admin_url: str = ADMIN_URL, revision: str = "head",
                       create_options: str = "") -> Iterator[str]:
    """Create ``<prefix>_<random>`` on the server of ``admin_url`` (CREATE DATABASE's ``create_options``
    added, e.g. another collation), migrate it (to ``revision``), yield its URL, drop it afterwards."""
    from tracker.db import migrate
    from tracker.db.engine import Database

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    # pre-ping: a drill may have restarted the server since the database was created.
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}" {create_options}')
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    try:
        db = Database(url)
        migrate.upgrade(db.engine, revision)
        db.dispose()
        yield url
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
