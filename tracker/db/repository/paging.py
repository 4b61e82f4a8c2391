"""Offset pages served by keyset: a statement ordered and cut after a remembered row, or at an offset."""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, UTC

from sqlalchemy import Integer, and_, bindparam, or_, tuple_

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
    """The rows that come after ``values`` (SQL expressions: bound parameters) in ``ordering``.

    One direction throughout is a row comparison, which PostgreSQL answers from a matching
    index; mixed directions expand to (a after) OR (a equal AND b after) ...
    """
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
    return bound_slice(statement, page.ordering, page.mark is not None).params(slice_values(page))


def bound_slice(statement, ordering: Ordering, marked: bool):
    """``statement`` (filtered, unordered) ordered and cut as sliced() cuts it, from a mark if
    ``marked`` else from an offset, every value a bound parameter (slice_values gives them): a
    page's statement of one shape is built once and serves any page (tracker.db.repository.prebuilt)."""
    statement = statement.order_by(*order_by(ordering))
    if marked:
        marks = [bindparam(f"mark_{position}", type_=column.type) for position, (column, _) in enumerate(ordering)]
        return statement.where(after(ordering, marks)).limit(LIMIT)
    return statement.offset(_OFFSET).limit(LIMIT)


# A page's LIMIT and OFFSET as bound parameters (typed, so that a statement with its values
# applied can be written out with them, to explain it).
LIMIT, _OFFSET = bindparam("limit", type_=Integer()), bindparam("offset", type_=Integer())


def slice_values(page: PageSlice) -> dict:
    """The values of bound_slice's parameters for ``page``."""
    if page.mark is not None:
        return {"limit": page.limit, **{f"mark_{position}": value for position, value in enumerate(page.mark)}}
    return {"limit": page.limit, "offset": page.offset}


def ordering_shape(ordering: Ordering) -> tuple:
    """``ordering`` as part of a statement's shape: its keys and directions (plain values, no SQL)."""
    return tuple((column.key, descending) for column, descending in ordering)


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
