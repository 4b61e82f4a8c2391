"""Every HTTP request's id: the caller's X-Request-Id when it is a safe short token, else a new one.

Set around the whole request (a WSGI middleware, so error pages and Flask's own 500 log
carry it too), in every log line written meanwhile, and echoed in the X-Request-Id
response header. The receivers and the native acknowledgement store it on the inbox row
they write.
"""
from __future__ import annotations

from flask import Flask, request

from tracker.adapters import logs

HEADER = "X-Request-Id"
_ENVIRON_KEY = "tracker.request_id"


def register(app: Flask) -> None:
    """Wrap ``app``'s WSGI callable so that each request gets its id."""
    inner = app.wsgi_app

    def with_request_id(environ, start_response):
        value = logs.request_id_from(environ.get("HTTP_X_REQUEST_ID"))
        environ[_ENVIRON_KEY] = value

        def start_with_id(status, headers, exc_info=None):
            headers = [(name, field) for name, field in headers if name.lower() != "x-request-id"]
            return start_response(status, [*headers, (HEADER, value)], exc_info)

        token = logs.request_id.set(value)
        try:
            return inner(environ, start_with_id)
        finally:
            logs.request_id.reset(token)

    app.wsgi_app = with_request_id  # type: ignore[method-assign]


def current() -> str | None:
    """The id of the request being handled (None outside one)."""
    return of(request.environ)


def of(environ) -> str | None:
    """The id of the request whose WSGI environ this is (for code in front of Flask)."""
    return environ.get(_ENVIRON_KEY)
