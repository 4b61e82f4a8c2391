"""LIKE patterns of text a caller typed: its own wildcards and the escape character taken literally.

Every pattern here is used with ``escape="\\"``: a backslash, ``%`` and ``_`` in the text match
themselves, not any character or run of characters.
"""
from __future__ import annotations

__all__ = ["ESCAPE", "containing", "escaped"]

ESCAPE = "\\"


def escaped(text: str) -> str:
    """``text`` with LIKE's wildcards and the escape character escaped."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def containing(text: str) -> str:
    """A pattern matching ``text`` anywhere."""
    return f"%{escaped(text)}%"
