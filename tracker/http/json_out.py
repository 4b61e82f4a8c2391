"""JSON response bodies written by orjson: a list page's encoding costs about a tenth of json.dumps's.

Every API answers through here: Flask's jsonify (``JsonProvider``, installed by ``install``)
and the compatible APIs that write their bodies themselves (``dumps``). What orjson writes
differs from json.dumps only where JSON allows it: no spaces after separators, non-ASCII
text as UTF-8 rather than \\u escapes. Values orjson refuses (an integer beyond 64 bits, a
dict key that is not a string, as a stored provider payload may hold) are written by json
instead, so a body orjson cannot write is never an error.

Times are written in ISO 8601 (2026-12-05T01:02:03.000004+00:00; no fraction when it is
zero, as datetime.isoformat writes them), a naive one as UTC: the tracker stores naive UTC
(tracker.db.repository.stored_times), so a list page hands its rows' times over as read and
orjson writes them in C. Writing them in Python first (isoformat plus a zone, several times
a row) had cost a 100-row native page more than all the rest of its encoding.
"""
from __future__ import annotations

import json
from datetime import date, datetime, time
from typing import Any

import orjson
from flask import Flask, Response
from flask.json.provider import DefaultJSONProvider

# Dataclasses go to ``default`` as they do with json.dumps; str and int subclasses (the str
# enums) are written as their values, as json does.
_OPTIONS = orjson.OPT_NAIVE_UTC | orjson.OPT_PASSTHROUGH_DATACLASS
# ``dumps(times=TO_THE_SECOND)``: UTC times to the second, zone Z (Elevate's 2024-09-02T01:34:37Z).
TO_THE_SECOND = orjson.OPT_OMIT_MICROSECONDS | orjson.OPT_UTC_Z


def dumps(document: Any, default=None, *, times: int = 0) -> bytes:
    """``document`` as compact UTF-8 JSON; ``times``: 0 (isoformat's ISO 8601) or TO_THE_SECOND."""
    try:
        return orjson.dumps(document, default=default, option=_OPTIONS | times)
    except orjson.JSONEncodeError:  # beyond what orjson writes (see the module's docstring)
        # ASCII: a lone surrogate (which orjson refuses too) is written as its escape, not a 500.
        return json.dumps(document, default=_times_then(default, times), separators=(",", ":")).encode()


def response(document: Any, *, times: int = 0, status: int = 200) -> Response:
    """A JSON answer as jsonify gives it (one line), its times written as ``dumps(times=...)`` says."""
    return Response(dumps(document, times=times) + b"\n", status=status, mimetype="application/json")


def _times_then(default, times: int):
    """json.dumps's ``default``: times as orjson writes them with ``times``, anything else to ``default``."""
    def write(value):
        if isinstance(value, datetime):
            if times & orjson.OPT_OMIT_MICROSECONDS:
                value = value.replace(microsecond=0)  # isoformat then writes no fraction, as orjson
            text = value.isoformat() + ("+00:00" if value.tzinfo is None else "")
            return text[:-6] + "Z" if times & orjson.OPT_UTC_Z and text.endswith("+00:00") else text
        if isinstance(value, (date, time)):
            return value.isoformat()
        if default is None:
            raise TypeError(f"{type(value).__name__} is not JSON serializable")
        return default(value)
    return write


class JsonProvider(DefaultJSONProvider):
    """Flask's JSON provider, writing jsonify's compact bodies with ``dumps``; indented (debug) or sorted
    bodies, and everything else it serialises (templates' tojson), as Flask does, but for times, which
    every body writes as ``dumps`` does (a debug server's list pages show the same times)."""

    default = staticmethod(_times_then(DefaultJSONProvider.default, 0))

    def response(self, *args: Any, **kwargs: Any):
        if (self.compact is None and self._app.debug) or self.compact is False or self.sort_keys:
            return super().response(*args, **kwargs)
        body = dumps(self._prepare_response_obj(args, kwargs), default=self.default)
        return self._app.response_class(body + b"\n", mimetype=self.mimetype)


def install(app: Flask) -> None:
    """Write ``app``'s jsonify bodies with orjson, keys in the order the views give them."""
    app.json = JsonProvider(app)
    app.json.sort_keys = False
