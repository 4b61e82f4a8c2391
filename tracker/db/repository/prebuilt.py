"""Page statements built once per shape; each request binds its values.

Why: a compatible list built its page's Core statement per request, and SQLAlchemy then keyed
it for its compiled cache and adapted the cached result's columns to the new statement object:
about a fifth of the request's CPU, more than running the query (bench/compat_cpu.py). A
statement of the same shape (which filters, which order, from a mark or an offset) is the same
SQL with other values, so it is built once, its values bound parameters, and every request of
that shape executes the same object. The native list does the same per filter combination
(delivery_reads._page_statement).

A shape is a tuple of plain values (names, flags, frozensets): no SQL objects, whose ``==``
builds an expression.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

__all__ = ["forget", "prebuilt"]

T = TypeVar("T")
_LIMIT = 2048  # shapes kept; past it all go (a shape rebuilt costs one request's former price)
_BUILT: dict[tuple, object] = {}
_LOCK = threading.Lock()


def prebuilt(shape: tuple, build: Callable[[], T]) -> T:
    """The statement for ``shape``, made by ``build()`` the first time it is asked for."""
    found = _BUILT.get(shape)
    if found is None:
        found = build()
        with _LOCK:
            if len(_BUILT) >= _LIMIT:
                _BUILT.clear()
            _BUILT[shape] = found
    return found  # type: ignore[return-value]


def forget() -> None:
    """Drop every statement kept: the next request of each shape builds its own again."""
    with _LOCK:
        _BUILT.clear()
