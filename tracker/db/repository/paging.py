"""Offset pages served by keyset: a statement ordered and cut after a remembered row, or at an offset."""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, UTC

from sqlalchemy import and_, literal, or_, tuple_

__all__ = ["Ordering", "PageSlice"]

# One sort key: (column attribute, descending). The last one must be unique (the id).
Ordering = Sequence[tuple[object, bool]]


@dataclasses.dataclass(frozen=True)
class PageSlice:
    """Which rows of an ordered query a page holds: after ``mark`` (a sort key) if known, else from ``offset``."""
    ordering: Ordering
    mark: tuple | None
    offset: int
    limit: int


def order_by(ordering: Ordering) -> list:
    """ORDER BY clauses for ``ordering``."""
    return [column.desc() if descending else column.asc() for column, descending in ordering]


def after(ordering: Ordering, values: Sequence) -> object:
    """The rows that come after ``values`` in ``ordering``.

    One direction throughout is a row comparison, which PostgreSQL answers from a matching
    index; mixed directions expand to (a after) OR (a equal AND b after) ...
    """
    # strict=False, as before: the mark is read on the ordering's columns only, and below a prefix
    # of the ordering is paired with the whole mark on purpose.
    values = [literal(value, column.type) for (column, _), value in zip(ordering, values, strict=False)]
    directions = {descending for _, descending in ordering}
    if len(directions) == 1:
        columns, marked = tuple_(*(column for column, _ in ordering)), tuple_(*values)
        return columns < marked if directions.pop() else columns > marked
    alternatives = []
    for position, (column, descending) in enumerate(ordering):
        equal = [earlier == value for (earlier, _), value in zip(ordering[:position], values, strict=False)]
        beyond = column < values[position] if descending else column > values[position]
        alternatives.append(and_(*equal, beyond))
    return or_(*alternatives)


def sliced(statement, page: PageSlice):
    """``statement`` (filtered, unordered) ordered, from the mark or the offset, ``page.limit`` rows."""
    statement = statement.order_by(*order_by(page.ordering))
    if page.mark is not None:
        return statement.where(after(page.ordering, page.mark)).limit(page.limit)
    return statement.offset(page.offset).limit(page.limit)


def row_values(row, ordering: Ordering) -> tuple:
    """The sort key of a result row: a Core row selecting each sort key under its column's key,
    or a row whose first element is the ordered entity.

    Times come back aware, whether the row read them so or as stored.
    A sort key that is no attribute of the entity (a labelled expression, such as a status
    in an API's own words) is read from the row, which must select it under its label.
    """
    mapping = row._mapping
    entity = row[0]
    return tuple(_zoned(mapping[column.key] if column.key in mapping else getattr(entity, column.key))
                 for column, _ in ordering)


def _zoned(value):
    """A time read as stored (naive UTC: tracker.db.repository.stored_times) as the ordering's UTC
    column binds it, aware; any other value as it is."""
    return value.replace(tzinfo=UTC) if isinstance(value, datetime) and value.tzinfo is None else value
