"""One JSON error shape for every route: {"error": "...", "detail": "..."}.

ApiError
 └─ raised by views and receivers with a status, a short machine-readable error and a detail
Database errors become 503 (the sender retries; nothing was stored), HTTP errors keep their
status, and nothing answers HTML.
"""
from __future__ import annotations

import logging

from flask import Flask, jsonify, request
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, error: str, detail: str = "", headers: dict | None = None) -> None:
        super().__init__(detail or error)
        self.status = status
        self.error = error
        self.detail = detail
        self.headers = headers or {}


def error_response(status: int, error: str, detail: str = "", headers: dict | None = None):
    response = jsonify({"error": error, "detail": detail})
    response.status_code = status
    response.headers.update(headers or {})
    return response


def register(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(error: ApiError):
        return error_response(error.status, error.error, error.detail, error.headers)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        name = (error.name or "error").lower().replace(" ", "_")
        return error_response(error.code or 500, name, error.description or "")

    @app.errorhandler(OperationalError)
    @app.errorhandler(DBAPIError)
    def _database_unavailable(error: Exception):
        log.error("database unavailable: %s", error)
        # A provider pushing to /hooks learns its event was not stored (and retries); a reader
        # of the APIs that the database is away for now.
        detail = ("the event could not be stored; retry later" if request.path.startswith("/hooks/")
                  else "the database is unavailable; retry later")
        return error_response(503, "database_unavailable", detail, {"Retry-After": "5"})
