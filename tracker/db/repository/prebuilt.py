"""Page statements built once per shape; each request binds its values.

Why: a compatible list built its page's Core statement per request, and SQLAlchemy then keyed
it for its compiled cache and adapted the cached result's columns to the new statement object:
about a fifth of the request's CPU, more than running the query (bench/compat_cpu.py). A
statement of the same shape (which filters, which order, from a mark or an offset) is the same
SQL with other values, so it is built once, its values bound parameters, and every request of
that shape executes the same object. The native list keeps one per filter combination
(delivery_reads).

A shape is a tuple of plain values (names, flags, frozensets): no SQL objects, whose ``==``
builds an expression.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

__all__ = ["KEPT_LENGTH", "forget", "prebuilt"]

T = TypeVar("T")
# Shapes kept per process. A kept statement weighs some KB (more with many conditions), and
# SQLAlchemy keeps its compiled form beside it (its own cache: 500 by default).
_LIMIT = 512
# The longest list of conditions a caller chooses (senders, time spans) whose statement is kept.
KEPT_LENGTH = 4
_BUILT: dict[tuple, object] = {}
_LOCK = threading.Lock()


def prebuilt(shape: tuple, build: Callable[[], T], *, keep: bool = True) -> T:
    """The statement for ``shape``, made by ``build()`` the first time it is asked for.

    ``keep=False``: built for this request alone, not kept. For a shape whose size the caller
    chooses (a list of conditions as long as the query string allows, past KEPT_LENGTH): kept,
    each length would be a statement of its own, and a client could fill the cache with large ones.
    """
    found = _BUILT.get(shape)
    if found is None:
        found = build()
        if keep:
            with _LOCK:
                if len(_BUILT) >= _LIMIT:  # the older half goes: a shape in use is built again once
                    for stale in list(_BUILT)[:_LIMIT // 2]:
                        del _BUILT[stale]
                _BUILT[shape] = found
    return found  # type: ignore[return-value]


def forget() -> None:
    """Drop every statement kept: the next request of each shape builds its own again."""
    with _LOCK:
        _BUILT.clear()
