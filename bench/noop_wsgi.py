"""The tracker's WSGI app plus the benchmark's reference routes, served by one gunicorn.

POST /bench/noop answers 204 and does nothing else: the cost of gunicorn, Flask routing
and loopback HTTP under exactly the settings the real receiver runs with (the baseline).
POST /bench/verify reads, decodes and signature-checks the body like the receiver, then
answers 204 without storing: the step between the baseline and the real receiver.
GET /bench/floor-list?account=N answers the native list's first page with the least this stack
can do: the native page's query (its columns, one row more than the page) through psycopg2 on a
connection kept per process, the rows written by orjson, in a Flask route; no API key, no rate
limit, no SQLAlchemy, no validation (bench/read.py: how far a list page can come to its SQL here).
"""
import os
import re

import orjson
import psycopg2
from flask import Response, request

from tracker import create_app
from tracker.db.repository.delivery_reads import LISTED_COLUMNS
from tracker.providers.ses.auth import verify
from tracker.providers.ses.envelope import decode_envelope

app = create_app()


@app.post("/bench/noop")
def noop():
    return "", 204


@app.post("/bench/verify")
def verify_only():
    envelope = decode_envelope(request.get_data(cache=False).decode("utf-8"))
    verify(envelope.fields, app.extensions["tracker"].certificates)
    return "", 204



_FLOOR_SQL = (f"SELECT {', '.join(LISTED_COLUMNS)} FROM deliveries WHERE account_id = %s "
              "ORDER BY updated_at, id LIMIT %s")
_floor_connections: dict[int, object] = {}  # pid -> its connection (gunicorn forks after import)


@app.get("/bench/floor-list")
def floor_list():
    connection = _floor_connections.get(os.getpid())
    if connection is None:
        connection = psycopg2.connect(re.sub(r"^postgresql\+psycopg2://", "postgresql://",
                                             app.extensions["tracker"].config.database_url))
        connection.autocommit = True
        _floor_connections[os.getpid()] = connection
    limit = int(request.args.get("limit", "100"))
    with connection.cursor() as cursor:
        cursor.execute(_FLOOR_SQL, (int(request.args["account"]), limit + 1))
        rows = cursor.fetchall()
    body = {"data": [dict(zip(LISTED_COLUMNS, row, strict=True)) for row in rows[:limit]], "more": len(rows) > limit}
    return Response(orjson.dumps(body, option=orjson.OPT_NAIVE_UTC), mimetype="application/json")
