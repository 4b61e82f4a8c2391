"""JSON response bodies written by orjson: a list page's encoding costs about a tenth of json.dumps's.

Every API answers through here: Flask's jsonify (``JsonProvider``, installed by ``install``)
and the compatible APIs that write their bodies themselves (``dumps``). What orjson writes
differs from json.dumps only where JSON allows it: no spaces after separators, non-ASCII
text as UTF-8 rather than \\u escapes. Values orjson refuses (an integer beyond 64 bits, a
dict key that is not a string, as a stored provider payload may hold) are written by json
instead, so a body orjson cannot write is never an error.
"""
from __future__ import annotations

import json
from typing import Any

import orjson
from flask import Flask
from flask.json.provider import DefaultJSONProvider

# Dates and dataclasses go to ``default`` as they do with json.dumps (Flask writes a datetime as
# an HTTP date); str and int subclasses (the str enums) are written as their values, as json does.
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def dumps(document: Any, default=None) -> bytes:
    """``document`` as compact UTF-8 JSON."""
    try:
        return orjson.dumps(document, default=default, option=_OPTIONS)
    except orjson.JSONEncodeError:  # beyond what orjson writes (see the module's docstring)
        # ASCII: a lone surrogate (which orjson refuses too) is written as its escape, not a 500.
        return json.dumps(document, default=default, separators=(",", ":")).encode()


class JsonProvider(DefaultJSONProvider):
    """Flask's JSON provider, writing jsonify's compact bodies with ``dumps``; indented (debug) or sorted
    bodies, and everything else it serialises (templates' tojson), as Flask does."""

    def response(self, *args: Any, **kwargs: Any):
        if (self.compact is None and self._app.debug) or self.compact is False or self.sort_keys:
            return super().response(*args, **kwargs)
        body = dumps(self._prepare_response_obj(args, kwargs), default=self.default)
        return self._app.response_class(body + b"\n", mimetype=self.mimetype)


def install(app: Flask) -> None:
    """Write ``app``'s jsonify bodies with orjson, keys in the order the views give them."""
    app.json = JsonProvider(app)
    app.json.sort_keys = False
