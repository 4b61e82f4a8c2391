"""What the database can hold: text without NUL or lone surrogates, values without deep nesting.

PostgreSQL's text and jsonb refuse U+0000, and UTF-8 cannot encode a lone surrogate (JSON's
"\\ud800" decodes to one). Providers' payloads may carry either; the raw event keeps the
exact bytes, so what is stored derived from it follows one rule per field:

- identifiers (message id, recipient, event key) are refused: replacing a character could
  make two different ids one, so the row fails as "unstorable" with the reason;
- free text (diagnostics, subtypes, subjects, details) has each such character replaced by
  U+FFFD, the Unicode replacement character, and the event applies.
"""
from __future__ import annotations

import math
import re
from typing import Any

REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Details are copied from payloads; their own nesting is bounded too (JSON parsing already
# refuses deeper documents, but a parser may build details from several levels).
MAX_DEPTH = 32


def problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as an identifier, or None when it can."""
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    what = "a NUL character" if found.group() == "\x00" else "a lone surrogate (not encodable as UTF-8)"
    return f"holds {what} at position {found.start()}"


def text(value: str) -> str:
    """``value`` with NUL and lone surrogates replaced by U+FFFD."""
    return _UNSTORABLE.sub(REPLACEMENT, value) if _UNSTORABLE.search(value) else value


def value(data: Any, depth: int = 0) -> Any:
    """A JSON-like value with every string (keys too) made storable and nesting cut at MAX_DEPTH.

    Non-finite floats become strings: JSON, and so jsonb, has no NaN or Infinity.
    """
    if isinstance(data, str):
        return text(data)
    if isinstance(data, float) and not math.isfinite(data):
        return str(data)
    if depth >= MAX_DEPTH and isinstance(data, (dict, list, tuple)):
        return REPLACEMENT
    if isinstance(data, dict):
        return {text(str(key)): value(item, depth + 1) for key, item in data.items()}
    if isinstance(data, (list, tuple)):
        return [value(item, depth + 1) for item in data]
    return data
