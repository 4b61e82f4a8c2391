"""Untrusted JSON, parsed with a bounded depth into values PostgreSQL can store, or refused with the reason.

json.loads recurses once per level of nesting, so a body nested a few thousand deep raises
RecursionError (not a ValueError) in whatever touches it; and it happily returns what
PostgreSQL refuses later, mid-transaction: NUL in a string (text and jsonb both refuse it),
lone surrogates (not encodable as UTF-8), NaN and Infinity (not JSON at all). ``loads``
refuses all of these up front with a ValueError naming the problem.
"""
from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64  # containers inside containers; far past any payload or API body we read


class Refused(ValueError):
    """The bytes are not JSON the tracker will read; the message says why."""


def loads(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value of ``data``, or Refused."""
    try:
        text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise Refused(f"JSON nested deeper than {max_depth} levels") from None
    except Refused:
        raise
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError, an integer of over 4300 digits
        raise Refused(f"not JSON: {error}") from None
    _check(value, max_depth)
    return value


def _no_constant(name: str):
    raise Refused(f"{name} is not a JSON number")


def _check(value: Any, max_depth: int) -> None:
    """Walk without recursion: depth, and strings (keys too) that PostgreSQL could not store."""
    pending = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            _storable(item)
        elif isinstance(item, (dict, list)):
            if depth >= max_depth:
                raise Refused(f"JSON nested deeper than {max_depth} levels")
            if isinstance(item, dict):
                for key, child in item.items():
                    _storable(key)
                    pending.append((child, depth + 1))
            else:
                pending.extend((child, depth + 1) for child in item)


def _storable(text: str) -> None:
    if "\x00" in text:
        raise Refused("a JSON string holds a NUL character (\\u0000)")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise Refused("a JSON string holds an unpaired surrogate (\\ud800-\\udfff)") from None
