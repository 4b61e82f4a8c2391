"""JSON from outside, parsed with bounded nesting: the one way untrusted JSON is read.

Python's json module recurses once per level: a body nested a few thousand deep raises
RecursionError (not a ValueError), and a structure a thousand deep breaks every later
recursive walk (encoding it for JSONB, hashing it for an event key). No provider sends
anything near MAX_DEPTH levels; past it the input is refused like any other malformed
JSON, with json.JSONDecodeError, so callers keep one except clause (as are integers too long
for Python to read, which json.loads refuses with a plain ValueError).
"""
from __future__ import annotations

import json
import re
from typing import Any

# Deepest nesting accepted. Real payloads stay under 10 (an SES event with headers and
# tags is 5); the bound only has to sit far below Python's recursion limit (1,000).
MAX_DEPTH = 64

# Strings may hold brackets; they are skipped whole (escapes included) when measuring.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_STRING_BYTES = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")
_BRACKETS_BYTES = re.compile(rb"[\[\]{}]")


def loads(document: str | bytes | bytearray) -> Any:
    """``json.loads(document)``, refusing nesting deeper than MAX_DEPTH (json.JSONDecodeError)."""
    _check_depth(document)
    try:
        return json.loads(document)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise
    except ValueError as exc:
        # Python (3.11+) reads no integer of more than sys.get_int_max_str_digits() digits (4300)
        # and says so with a plain ValueError: input json.loads cannot read, refused as such, so
        # that callers catching JSONDecodeError never take it for a bug (or a secret) of theirs.
        raise json.JSONDecodeError(f"unreadable JSON: {exc}", document if isinstance(document, str) else "", 0) \
            from None


def _check_depth(document: str | bytes | bytearray) -> None:
    text = document if isinstance(document, str) else None
    opened = document.count(b"[") + document.count(b"{") if text is None else text.count("[") + text.count("{")
    if opened <= MAX_DEPTH:
        return  # cannot nest deeper than the brackets it opens: the common case, at C speed
    if text is None:
        found = _BRACKETS_BYTES.findall(_STRING_BYTES.sub(b"", document))
        openers = (b"[", b"{")
    else:
        found = _BRACKETS.findall(_STRING.sub("", text))
        openers = ("[", "{")
    depth = 0
    for bracket in found:
        depth += 1 if bracket in openers else -1
        if depth > MAX_DEPTH:
            raise json.JSONDecodeError(f"nested deeper than {MAX_DEPTH} levels", text or "", 0)
