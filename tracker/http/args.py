"""Reading a request: query parameters and JSON bodies through a schema, and the list envelope."""
from __future__ import annotations

import math

from flask import request
from marshmallow import ValidationError

from tracker.http.cursors import Cursor
from tracker.http.errors import ApiError

_cursor = Cursor()


def page_of(page, more: bool, schema, position) -> dict:
    """The list envelope: the items and the cursor of the next page (null on the last)."""
    next_cursor = _cursor._serialize(position(page[-1]), None, None) if more else None
    return {"data": schema.dump(page, many=True), "next_cursor": next_cursor}


def items_page(page, more: bool, item, position) -> dict:
    """page_of's envelope, each row rendered by a plain function (``item``) instead of a schema's dump."""
    next_cursor = _cursor._serialize(position(page[-1]), None, None) if more else None
    return {"data": [item(row) for row in page], "next_cursor": next_cursor}


def load_body(schema, optional: bool = False):
    """The request's JSON object loaded through ``schema``, or a 400 naming what is wrong.

    ``optional``: no body at all loads as {}.
    """
    payload = request.get_json(silent=True)
    if payload is None and optional and not request.get_data(cache=True):
        payload = {}
    if not isinstance(payload, dict):
        raise ApiError(400, "invalid_request", "send a JSON object")
    try:
        return schema.load(payload)
    except ValidationError as error:
        raise ApiError(400, "invalid_request", _explain(error)) from None


def _explain(error: ValidationError) -> str:
    return "; ".join(f"{name}: {' '.join(map(str, msgs))}" for name, msgs in sorted(error.messages.items()))


def load_args(schema, args):
    """The query ``args`` loaded through ``schema``: unknown or repeated parameters are a 400."""
    unknown = sorted(set(args) - {field.data_key or name for name, field in schema.fields.items()})
    if unknown:
        raise ApiError(400, "invalid_request", f"unknown parameter(s): {', '.join(unknown)}")
    repeated = sorted(name for name in args if len(args.getlist(name)) > 1)
    if repeated:  # every parameter is one value: a second would be silently dropped
        raise ApiError(400, "invalid_request", f"give each parameter once: {', '.join(repeated)}")
    try:
        return schema.load(args.to_dict())
    except ValidationError as error:
        raise ApiError(400, "invalid_request", _explain(error)) from None


def whole_number(text: str) -> int | float:
    """The integer ``text`` writes (digits, a sign, spaces around: the caller has checked the form).

    Python's int() reads no text of more than 4,300 digits, leading zeros included, and refuses it
    with a ValueError that would be a 500: the zeros are dropped first, and a number still that long
    is math.inf (by its sign), past any bound a caller compares it with.
    """
    text = text.strip()
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-").lstrip("0") or "0"
    try:
        return sign * int(digits)
    except ValueError:
        return sign * math.inf
