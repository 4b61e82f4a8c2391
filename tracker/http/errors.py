"""One JSON error shape for every route, {"error": "...", "detail": "..."}, and each API style's own.

ApiError
 └─ raised by views, receivers and the input guard (tracker.http.input_guard) with a status,
    a short machine-readable error, a detail and, for a refused parameter, its name and where
    it was (query, path, headers, body)
Whatever refuses a request (a view, the input guard, routing, the database) raises or becomes
an ApiError, and one handler renders it: in the shape of the API style whose paths the request
is under (``register(app, styles=...)``: Infobip's requestError, SendCloud's envelope,
Postman's messages; the dashboard's pages, a page), else in the shape above. Database
errors: unavailable is 503 (the sender retries; nothing was stored); on the APIs, a value the
database refuses (DataError) is the request's fault: 400. HTTP errors keep their status and
headers (405 its Allow); nothing but the dashboard answers HTML.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from flask import Flask, Response, current_app, jsonify, request
from sqlalchemy.exc import DBAPIError, DataError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

# Headers of an HTTPException that describe its body, which the renderers write themselves.
_BODY_HEADERS = {"content-type", "content-length"}


class ApiError(Exception):
    def __init__(self, status: int, error: str, detail: str = "", headers: dict | None = None, *,
                 parameter: str | None = None, source: str | None = None) -> None:
        super().__init__(detail or error)
        self.status = status
        self.error = error
        self.detail = detail
        self.headers = headers or {}
        self.parameter = parameter  # the refused parameter, when one is to blame
        self.source = source  # where it was: "query", "params" (the path), "headers" or "body"


# An API style's renderer: the refusal in that style's shape.
Renderer = Callable[[ApiError], Response]


def error_name(reason: str) -> str:
    """An HTTP reason phrase as the short error name: "Method Not Allowed" -> method_not_allowed."""
    return (reason or "error").lower().replace(" ", "_").replace("-", "_")


def error_response(status: int, error: str, detail: str = "", headers: dict | None = None):
    response = jsonify({"error": error, "detail": detail})
    response.status_code = status
    response.headers |= headers or {}
    return response


def render(error: ApiError) -> Response:
    """``error`` in the shape of the API style the request's path belongs to."""
    for prefixes, renderer in current_app.extensions.get("tracker.error_styles", ()):
        if request.path.startswith(prefixes):
            return renderer(error)
    return error_response(error.status, error.error, error.detail, error.headers)


def register(app: Flask, styles: Iterable[tuple[tuple[str, ...], Renderer]] = ()) -> None:
    """Install the handlers; ``styles`` maps path prefixes to the renderer of the API style served there."""
    app.extensions["tracker.error_styles"] = tuple(styles)

    @app.errorhandler(ApiError)
    def _api_error(error: ApiError):
        return render(error)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        # get_headers() carries what the status needs, such as the Allow list of a 405.
        headers = {name: value for name, value in error.get_headers() if name.lower() not in _BODY_HEADERS}
        return render(ApiError(error.code or 500, error_name(error.name), error.description or "", headers))

    @app.errorhandler(DBAPIError)
    def _database_error(error: DBAPIError):
        hook = request.path.startswith("/hooks/")
        if isinstance(error, DataError) and not hook:
            # A parameter the database cannot compare (a number past bigint, say): the request's
            # fault, not an outage. The views validate first; this is the net behind them.
            log.warning("database refused a value of %s %s: %s", request.method, request.path, error.orig)
            return render(ApiError(400, "invalid_request", "a value in the request is outside what the tracker "
                                   "stores (too large a number, or an unreadable character)"))
        return render(database_unavailable(error, hook))


def database_unavailable(error: DBAPIError, hook: bool) -> ApiError:
    """The 503 for a database error that is not the request's fault (logged here, once)."""
    log.error("database unavailable: %s", error)
    # A provider pushing to /hooks learns its event was not stored (and retries); a reader
    # of the APIs that the database is away for now.
    detail = "the event could not be stored; retry later" if hook else "the database is unavailable; retry later"
    return ApiError(503, "database_unavailable", detail, {"Retry-After": "5"})
