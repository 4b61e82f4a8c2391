"""POST /hooks/sns/<token> without Flask on the way, for the requests that store (or meet an outage).

Why: SNS notifications are the tracker's one high-volume request, and Flask's request
context, URL routing and response objects took about 45% of the receiver's CPU per event
(bench/hook_profile.py, in process: 460 us per request through Flask, 260 us through this).
This WSGI layer, in front of Flask, serves the common case itself: a source already in this
process's cache, a body of declared length within the limit, an envelope that verifies and
is stored (or was already: a redelivery). A database error is answered here as the Flask
route would (503, the event was not stored: SNS retries), so an outage costs one attempt,
not two. Everything else (a refusal, an unknown or uncached token, a source changed
meanwhile, a raw-delivery header, a missing or chunked length, a body cut short or past the
limit) goes to the Flask route (tracker.http.receivers.sns) with the body put back, so each
refusal keeps one implementation and its shape. What the fast path did before handing over
stored nothing, and the route decides afresh.
"""
from __future__ import annotations

import io
import re

from sqlalchemy.exc import DBAPIError

from tracker.http import errors, request_ids
from tracker.http.receivers.sns import answered, json_body, raw_delivery
from tracker.pipeline import intake
from tracker.providers.registry import SES

_PATH = re.compile(r"/hooks/sns/([^/]+)")  # the Flask route's <token>: anything but a slash
_STATUS_LINES = {200: "200 OK", 503: "503 SERVICE UNAVAILABLE"}  # as werkzeug writes them


def install(app) -> None:
    """Put the fast path in front of ``app``'s WSGI callable (inside whatever wraps it later)."""
    flask_app = app.wsgi_app
    services = app.extensions["tracker"]
    limit = app.config["MAX_CONTENT_LENGTH"]

    def fast_sns(environ, start_response):
        match = _PATH.fullmatch(environ.get("PATH_INFO", "")) if environ["REQUEST_METHOD"] == "POST" else None
        source = services.sources.cached(match.group(1)) if match else None
        if source is None or source.provider != SES or raw_delivery(environ.get("HTTP_X_AMZ_SNS_RAWDELIVERY")):
            return flask_app(environ, start_response)
        body = _body(environ, limit)
        if body is None:
            return flask_app(environ, start_response)
        try:
            stored = intake.accept_sns(services, source, body.decode("utf-8"), request_id=request_ids.of(environ),
                                       check_source=True)
        except DBAPIError as error:
            refusal = errors.database_unavailable(error, hook=True)
            return _answer(start_response, refusal.status,
                           json_body({"error": refusal.error, "detail": refusal.detail}), refusal.headers)
        except Exception:  # noqa: BLE001 - refused, not UTF-8 or the source changed: the Flask route decides
            return flask_app(environ, start_response)
        return _answer(start_response, 200, answered(services, stored))

    app.wsgi_app = fast_sns


def _body(environ, limit: int | None) -> bytes | None:
    """The whole body, put back for Flask to read again; None where Flask must decide (nothing read)."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None  # no length (chunked) or a bad one: werkzeug's rules apply
    if length < 0 or (limit is not None and length > limit):
        return None
    try:
        body = environ["wsgi.input"].read(length)
    except OSError:  # the client stopped sending (tracker.http.gunicorn_worker times its reads out)
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)  # a short body stays short: Flask answers it as a disconnect
    return body if len(body) == length else None


def _answer(start_response, status: int, body: bytes, headers: dict | None = None):
    start_response(_STATUS_LINES[status], [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                                          *(headers or {}).items()])
    return [body]
