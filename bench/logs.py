"""Logging cost benchmark: what the request id and the log lines add per request and per inbox row.

In process, CPU time, one run: a bare Flask 204 route called through WSGI is the baseline;
against it, the same route behind the request-id middleware, and one log line (gunicorn's
access line per request, the worker's DEBUG line per applied row) in text and in JSON,
written to /dev/null. Reported as microseconds and as a ratio to the baseline request.

    .venv/bin/python bench/logs.py [-n 20000]
"""
from __future__ import annotations

import argparse
import io
import logging
import logging.config
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask  # noqa: E402

from tracker.adapters import logs  # noqa: E402
from tracker.http import request_ids  # noqa: E402

# gunicorn's access line: its default format and the atoms it passes (one of them the response's X-Request-Id).
ACCESS_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'
ATOMS = {"h": "127.0.0.1", "l": "-", "u": "-", "t": "[04/Dec/2026:22:10:17 +0000]",
         "r": "POST /hooks/sns/1D7fisgi6G56C3kmlrO730aWFpcuRbz9 HTTP/1.1", "s": "200", "b": "85", "f": "-",
         "a": "Python-urllib/3.11", "{x-request-id}o": "0123456789abcdef0123456789abcdef"}


def _app(with_ids: bool) -> Flask:
    app = Flask(__name__)
    app.add_url_rule("/", "empty", lambda: ("", 204))
    if with_ids:
        request_ids.register(app)
    return app


def _per_call(n: int, call) -> float:
    """CPU microseconds per call of ``call`` (best of three rounds of ``n``)."""
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        for _ in range(n):
            call()
        best = min(best, time.process_time() - started)
    return best / n * 1e6


def _request(app: Flask):
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "SERVER_NAME": "bench", "SERVER_PORT": "80",
               "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(), "HTTP_X_REQUEST_ID": "bench-1"}

    def call() -> None:
        for _ in app.wsgi_app(dict(environ), lambda status, headers, exc_info=None: None):
            pass

    return call


def _configure(log_format: str, level: str) -> None:
    logging.config.dictConfig(logs.dict_config(log_format, level))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20000)
    n = parser.parse_args().n
    print(f"CPU per call, best of 3 x {n}:")
    with open(os.devnull, "w") as null:
        sys.stderr = null  # where the handler (ext://sys.stderr) writes
        figures = _measure(n)
    sys.stderr = sys.__stderr__
    for name, micros in figures:
        print(f"  {name:<46} {micros:7.1f} us   {micros / figures[0][1]:5.2f} x baseline")


def _measure(n: int) -> list[tuple[str, float]]:
    access, ingest = logging.getLogger("gunicorn.access"), logging.getLogger("tracker.pipeline.ingest")

    def access_line() -> None:
        access.info(ACCESS_FORMAT, ATOMS)

    def row_line() -> None:
        if ingest.isEnabledFor(logging.DEBUG):
            with logs.context(request_id="0123456789abcdef0123456789abcdef", inbox_id=42):
                ingest.debug("applied inbox row %s (%s %s): %d event(s)", 42, "ses", "notification", 1)

    _configure("text", "WARNING")
    baseline = _per_call(n, _request(_app(with_ids=False)))
    figures = [("bare 204 request (baseline)", baseline),
               ("204 request with the request-id middleware", _per_call(n, _request(_app(with_ids=True)))),
               ("per-row line, level INFO (not written)", _per_call(n, row_line))]
    for log_format in ("text", "json"):
        _configure(log_format, "DEBUG")
        figures += [(f"gunicorn access line, {log_format}", _per_call(n, access_line)),
                    (f"per-row line, level DEBUG, {log_format}", _per_call(n, row_line))]
    return figures


if __name__ == "__main__":
    main()
