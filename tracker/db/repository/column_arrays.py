"""A batch's rows written as one array per column (PostgreSQL's unnest), not a VALUES list.

Why: the worker writes a batch's history, deliveries and messages in one upsert each. Sent as
multi-row VALUES, a batch of 500 is some 10,000 literals for PostgreSQL to parse, and
SQLAlchemy builds a parameter dictionary per row to fill them. Sent as one array per column,
``INSERT ... SELECT * FROM unnest(:a, :b, ...)`` is one short statement with a parameter per
column, each array's elements still going through their column type's bind processor
(SQLAlchemy's ARRAY applies it to each element). Measured on the history's table with its
indexes, batches of 500: 41 -> 29 us of PostgreSQL CPU per row.

SQLite has no arrays: there the same upsert takes its rows as VALUES. Either way the caller
adds its ON CONFLICT clause to the INSERT given here and executes it with ``parameters()``.
"""
from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import String, bindparam, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from tracker.db.repository.dialect import insert_for

__all__ = ["batch_insert", "parameters"]


def batch_insert(session: Session, table, names: Sequence[str]):
    """The dialect's INSERT of rows holding exactly the columns ``names``, to be executed with
    ``parameters(session, rows, names)``."""
    if session.get_bind().dialect.name != "postgresql":
        return insert_for(session, table)
    # psycopg2's dialect writes each array's type beside it (%(name)s::TYPE[]), so an array of
    # NULLs is typed too. One dimension: left to guess, SQLAlchemy would take a JSON column whose
    # first value is a list for a second dimension and give its processor the list's items.
    arrays = [bindparam(name, type_=postgresql.ARRAY(_element_type(table.c[name].type), dimensions=1))
              for name in names]
    unnested = func.unnest(*arrays).table_valued(*names).render_derived()
    # include_defaults=False: the rows hold every column this INSERT names, and nothing else is
    # filled in (a VALUES row would get a missing column's Python default; here none is missing).
    return postgresql.insert(table).from_select(list(names), select(*(unnested.c[name] for name in names)),
                                                include_defaults=False)


def _element_type(column_type):
    """The type of a column's array: its own, but a string's without a length. An explicit cast
    to VARCHAR(n)[] would cut a longer value short without a word; unbounded, the value reaches
    the INSERT, whose assignment to the column refuses it, as it refuses a VALUES row's."""
    if isinstance(column_type, String) and column_type.length is not None:
        column_type = column_type.copy()
        column_type.length = None
    return column_type


def parameters(session: Session, rows: Sequence[dict], names: Sequence[str]):
    """What batch_insert's statement is executed with: one list per column, or the rows themselves."""
    if session.get_bind().dialect.name != "postgresql":
        return list(rows)
    return {name: [row[name] for row in rows] for name in names}
