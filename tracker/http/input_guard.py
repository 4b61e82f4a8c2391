"""Untrusted request input of the APIs, screened once before any view reads it.

Refused with a 400 (rendered in the API style's own shape by tracker.http.errors), whatever
the API: a control character (NUL included) in the path, a query or form parameter's name
or value, or a header; a JSON body that is not JSON, nests past providers.bounded_json's
bound, or holds what PostgreSQL cannot store (NUL or a lone surrogate in a string or key:
providers.storable's rule for identifiers, since what a client sends is its to correct;
NaN or Infinity). No parameter of any API is free text where a control character belongs,
and PostgreSQL refuses NUL outright, so refusing here turns what was a 500 deep in a query
into a clear error naming the parameter. A JSON body may hold control characters other
than NUL (a subject or template parameter may well have a newline).

The receivers under /hooks/ read their bodies raw and answer providers by their own rules:
they are not screened here.
"""
from __future__ import annotations

import math
import re
from typing import Any

from flask import Flask, request

from tracker.http.errors import ApiError
from tracker.providers.common import bounded_json, storable

# C0 controls and DEL. Header values may hold a tab (RFC 9110 field-value), nothing else.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HEADER_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
_CONTENT_HEADERS = ("CONTENT_TYPE", "CONTENT_LENGTH")
UNSCREENED = ("/hooks/",)


def register(app: Flask) -> None:
    @app.before_request
    def _screen():
        # A path or method that is not served is answered as such (404, 405 with Allow) first.
        if request.routing_exception is None and not request.path.startswith(UNSCREENED):
            screen()


def screen() -> None:
    """Raise ApiError(400) for the first part of the request an API must not read."""
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str) and _CONTROL.search(value):
            raise _refused(name, "path", "the path")
    if _CONTROL.search(request.path):
        raise _refused(None, "path", "the path")
    _parameters(request.args, "query", "query parameters")
    environ = request.environ
    has_type = bool(environ.get("CONTENT_TYPE"))  # a GET has none: its type is not parsed at all
    if has_type and request.mimetype in _FORMS:
        _parameters(request.form, "body", "form fields")
    # The headers as WSGI holds them (HTTP_*, CONTENT_TYPE, CONTENT_LENGTH): the same names and
    # values request.headers gives, without building its view of each.
    for key, value in environ.items():
        if (key.startswith("HTTP_") or key in _CONTENT_HEADERS) and isinstance(value, str) \
                and (_HEADER_CONTROL.search(key) or _HEADER_CONTROL.search(value)):
            raise _refused(_header_name(key), "headers", "headers")
    body = request.get_data(cache=True) if has_type and request.is_json else b""  # bounded: 413
    problem = unreadable(body) if body else None
    if problem:
        raise ApiError(400, "invalid_request", f"the JSON body: {problem}", source="body")


def _header_name(key: str) -> str:
    """HTTP_X_REQUEST_ID -> X-Request-Id (as request.headers names it)."""
    return (key[5:] if key.startswith("HTTP_") else key).replace("_", "-").title()


def unreadable(body: bytes) -> str | None:
    """Why a JSON body cannot be read into what the database stores, or None."""
    try:
        document = bounded_json.loads(body)
    except ValueError as error:  # not JSON, not UTF-8, too deep, an integer of over 4300 digits
        return f"not JSON: {error}"
    return _unstorable(document)


def _unstorable(document: Any) -> str | None:
    """The first string (or key) PostgreSQL would refuse, or number JSON has not; walked without recursion."""
    pending = [document]
    while pending:
        item = pending.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return "NaN or Infinity is not a JSON number"
        texts = [item] if isinstance(item, str) else list(item) if isinstance(item, dict) else []
        for text in texts:
            problem = storable.problem(text)
            if problem:
                return f"a string {problem}"
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return None


def _parameters(values, source: str, what: str) -> None:
    for name in values:
        if _CONTROL.search(name) or any(_CONTROL.search(value) for value in values.getlist(name)):
            raise _refused(name, source, what)


def _refused(name: str | None, source: str, what: str) -> ApiError:
    shown = f"{name!r}" if name else what
    return ApiError(400, "invalid_request", f"{shown}: control characters (such as NUL) are not allowed in {what}",
                    parameter=name, source=source)
