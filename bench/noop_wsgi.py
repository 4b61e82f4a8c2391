"""The tracker's WSGI app plus the benchmark's reference routes, served by one gunicorn.

POST /bench/noop answers 204 and does nothing else: the cost of gunicorn, Flask routing
and loopback HTTP under exactly the settings the real receiver runs with (the baseline).
POST /bench/verify reads, decodes and signature-checks the body like the receiver, then
answers 204 without storing: the step between the baseline and the real receiver.
GET /bench/floor-list?account=N answers the native list's first page with the least this stack
can do: the native page's query (its columns, one row more than the page) through psycopg2 on one
of the tracker's kept connections (tracker.db.kept_connections), the rows written by orjson, in a
Flask route; no API key, no rate limit, no SQLAlchemy, no validation (bench/read.py: how far a
list page can come to its SQL here).
GET /bench/bare-list?account=N does the same in front of Flask, as a bare WSGI callable: the
floor without Flask's request context, routing and response object.
"""
from urllib.parse import parse_qs

import orjson
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


def _floor_page(account: int, limit: int) -> bytes:
    """The native first page's rows (one more read, as the native page does) as JSON: the least a list does."""
    with app.extensions["tracker"].db.statement() as connection, connection.cursor() as cursor:
        cursor.execute(_FLOOR_SQL, (account, limit + 1))
        rows = cursor.fetchall()
    body = {"data": [dict(zip(LISTED_COLUMNS, row, strict=True)) for row in rows[:limit]], "more": len(rows) > limit}
    return orjson.dumps(body, option=orjson.OPT_NAIVE_UTC)


@app.get("/bench/floor-list")
def floor_list():
    return Response(_floor_page(int(request.args["account"]), int(request.args.get("limit", "100"))),
                    mimetype="application/json")


def _in_front_of_flask(flask_app):
    """GET /bench/bare-list: _floor_page answered before Flask (no request context, routing or Response)."""
    def bare(environ, start_response):
        if environ["PATH_INFO"] != "/bench/bare-list":
            return flask_app(environ, start_response)
        query = parse_qs(environ.get("QUERY_STRING", ""))
        body = _floor_page(int(query["account"][0]), int(query.get("limit", ["100"])[0]))
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]
    return bare


app.wsgi_app = _in_front_of_flask(app.wsgi_app)
