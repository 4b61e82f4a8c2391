"""Reads of the Elevate style (tracker.http.compat.elevate): a page of email statuses."""
from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping, Sequence

from sqlalchemy import bindparam, case
from sqlalchemy.engine import Connection

from tracker.db import driver_reads
from tracker.db.models import Delivery, Message
from tracker.db.repository.compat_filters import Span, bound_within, columns_with_messages, span_shape, span_values
from tracker.db.repository.paging import Ordering, PageSlice, bound_slice, ordering_shape, slice_values
from tracker.db.repository.prebuilt import KEPT_LENGTH, prebuilt
from tracker.db.repository.stored_times import as_stored

__all__ = ["ELEVATE_COLUMNS", "ElevateFilter", "elevate_ordering", "elevate_statuses"]

# The columns a sort key names; "status" sorts by the word shown (the API's, given as ``words``).
_COLUMNS = {"id": Delivery.id, "recipient": Delivery.recipient, "created_at": Delivery.created_at,
            "updated_at": Delivery.updated_at}
# What an Elevate item shows, in this order (a row is read by position: tracker.http.compat.elevate);
# times as stored (naive UTC); the sort keys are among them under their own keys, for the page marks
# (paging.row_values).
_SELECTED = tuple(as_stored(Delivery.id, Delivery.recipient, Delivery.created_at, Delivery.updated_at,
                            Delivery.status, Delivery.smtp_action, Delivery.smtp_status, Delivery.diagnostic,
                            Delivery.bounce_type, Message.attributes))
ELEVATE_COLUMNS = tuple(column.key for column in _SELECTED)
_TIMES = {"created_at": Delivery.created_at, "updated_at": Delivery.updated_at}


@dataclasses.dataclass(frozen=True)
class ElevateFilter:
    """What an Elevate request selects; an empty field selects on nothing."""
    statuses: tuple[str, ...] | None = None  # canonical statuses
    bounce_type: str | None = None
    attributes: tuple[tuple[str, str], ...] = ()  # (message attribute, value)
    spans: tuple[tuple[str, Span], ...] = ()  # (created_at | updated_at, a span it is within)


@functools.cache
def _shown_status(words: tuple[tuple[str, str], ...]):
    """The status in the API's words (canonical status -> word), as a labelled column."""
    return case(*[(Delivery.status == status, word) for status, word in words],
                else_=Delivery.status).label("elevate_status")


def elevate_ordering(keys: Sequence[tuple[str, bool]], words: Mapping[str, str]) -> Ordering:
    """(id | recipient | created_at | updated_at | status, descending) pairs as a paging ordering.

    Sorting by status sorts by the word shown (``words``: canonical status -> word), not the rank.
    """
    shown = _shown_status(tuple(words.items()))
    return [(shown if name == "status" else _COLUMNS[name], descending) for name, descending in keys]


def elevate_statuses(connection: Connection, account_id: int, where: ElevateFilter, page: PageSlice,
                     words: Mapping[str, str]) -> list:
    """Rows of ELEVATE_COLUMNS, then the status word, of one page of the account's deliveries."""
    # The statuses and the bounce type come from the API's small vocabularies: part of the shape.
    # Attribute values and times are the caller's: bound.
    shape = ("elevate", tuple(words.items()), where.statuses, where.bounce_type,
             tuple(name for name, _ in where.attributes),
             tuple((name, span_shape(span)) for name, span in where.spans),
             ordering_shape(page.ordering), page.mark is not None)
    values = {"account_id": account_id, **slice_values(page)}
    for n, (_, value) in enumerate(where.attributes):
        values[f"attribute_{n}"] = value
    for n, (_, span) in enumerate(where.spans):
        values.update(span_values(f"span_{n}", span))
    # createdDateTime and updatedDateTime take any number of comma-separated spans: a query with
    # more than a few is built for itself, not kept (tracker.db.repository.prebuilt).
    keep = len(where.spans) <= KEPT_LENGTH
    statement = prebuilt(shape, lambda: _page_statement(where, page, words), keep=keep)
    return driver_reads.rows(connection, statement, values, kept=keep)


def _page_statement(where: ElevateFilter, page: PageSlice, words: Mapping[str, str]):
    """The page query of ``where``'s and ``page``'s shape, its values bound (see elevate_statuses)."""
    statement = columns_with_messages(bindparam("account_id"), *_SELECTED, _shown_status(tuple(words.items())))
    if where.statuses is not None:
        statement = statement.where(Delivery.status.in_(where.statuses))
    if where.bounce_type is not None:
        statement = statement.where(Delivery.bounce_type == where.bounce_type)
    for n, (name, _) in enumerate(where.attributes):
        statement = statement.where(Message.attributes[name].as_string() == bindparam(f"attribute_{n}"))
    for n, (name, span) in enumerate(where.spans):
        statement = statement.where(*bound_within(_TIMES[name], f"span_{n}", span))
    return bound_slice(statement, page.ordering, page.mark is not None)
