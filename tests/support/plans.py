"""PostgreSQL plans of the statements a piece of code runs: what the index tests look at."""
from __future__ import annotations


def reads_into(captured: list):
    """A before_cursor_execute listener appending each read's (statement, parameters) to ``captured``."""

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            captured.append((statement, parameters))

    return capture


def plan_without_seqscan(db, statement: str, parameters) -> str:
    """EXPLAIN's plan of ``statement`` with sequential scans priced out (enable_seqscan off): a plan
    that still scans a table sequentially has no index it could use."""
    connection = db.engine.raw_connection()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET enable_seqscan = off")
            cursor.execute("EXPLAIN " + statement, parameters)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        connection.rollback()
    finally:
        connection.close()
    return plan
