"""The readiness check's query: a round trip to the database."""
from __future__ import annotations

from sqlalchemy.engine import Connection

__all__ = ["round_trip"]


def round_trip(connection: Connection) -> None:
    """Ask the database something on ``connection``; raises DBAPIError when it cannot answer."""
    connection.exec_driver_sql("SELECT 1")
