"""Query plans for bench/read.py: what SQL one request runs, and a one-line summary of each plan."""
from __future__ import annotations

import re


def explain(client, engine, connection, case) -> list[str]:
    """Capture the SQL one request runs and summarise each statement's plan (but the key lookup's)."""
    from sqlalchemy import event

    captured: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if not executemany and not re.search(r"\bFROM api_keys\b", statement) \
                and statement.lstrip().upper().startswith(("SELECT", "WITH", "UPDATE")):
            captured.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        client.get(case.path, query_string=case.params, headers=case.headers)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    return [plan_summary(connection, statement, parameters) for statement, parameters in captured]


_SCAN = re.compile(r"(?:Parallel )?(Index Only Scan|Index Scan|Bitmap Index Scan|Bitmap Heap Scan|Seq Scan)( Backward)?"
                   r"(?: using (\S+))? on (\S+)")


def plan_summary(connection, statement: str, parameters) -> str:
    """One line of EXPLAIN's plan: each scan (the index used, or Seq Scan), each Sort and Limit.

    A SELECT is run (EXPLAIN ANALYZE): its execution time and the rows its scans read and
    threw away (Rows Removed by Filter) are shown too; anything else is only planned.
    """
    kind = statement.lstrip().split(None, 1)[0].upper()
    analyze = kind in ("SELECT", "WITH")
    with connection.cursor() as cursor:
        try:
            cursor.execute(("EXPLAIN ANALYZE " if analyze else "EXPLAIN ") + statement, parameters)
        except Exception as error:  # noqa: BLE001 - a summary, never a reason to stop
            return f"(EXPLAIN failed: {str(error).splitlines()[0]})"
        lines = [row[0] for row in cursor.fetchall()]
    parts: dict[str, int] = {}  # in plan order, identical nodes counted (an OR of 100 keys is one line)
    heap = ""
    loops, filtered, executed = 1, 0, None
    for line in lines:
        node = line.strip().removeprefix("->").strip()
        actual = re.search(r"actual time=\S+ rows=\d+ loops=(\d+)", node)
        if actual:
            loops = int(actual.group(1))
        removed = re.match(r"Rows Removed by Filter: (\d+)", node)
        if removed:
            filtered += int(removed.group(1)) * loops
        if node.startswith("Execution Time:"):
            executed = float(node.split()[2])
        scan = _SCAN.match(node)
        if scan:
            scanned, backward, index, table = scan.groups()
            if scanned == "Bitmap Heap Scan":
                heap = table  # its Bitmap Index Scans, below it, name the indexes
                continue
            if scanned == "Bitmap Index Scan":
                index, table = table, heap
            part = f"{table}: {scanned}{backward or ''}" + (f" {index}" if index else "")
        elif re.match(r"((Incremental )?Sort|Limit)\s+\(", node):
            part = node.split("  (")[0]
        else:
            continue
        parts[part] = parts.get(part, 0) + 1
    summary = ", ".join(part + (f" x{count}" if count > 1 else "") for part, count in parts.items())
    figures = f" ({executed:.2f} ms in the database, {filtered:,} rows filtered out)" if analyze else ""
    return f"{kind}{figures}: " + (summary or lines[0].split("  (")[0])
