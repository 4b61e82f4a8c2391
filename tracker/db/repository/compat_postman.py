"""Reads of the Postman style (tracker.http.compat.postman): one email, a page of emails."""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from sqlalchemy import bindparam, or_, select, tuple_
from sqlalchemy.engine import Connection

from tracker.db import driver_reads
from tracker.db.models import Delivery, DeliveryEvent, Message
from tracker.db.repository.compat_filters import (ShownStatuses, Span, bound_within, columns_with_messages, shown_in,
                                                  span_shape, span_values)
from tracker.db.repository.paging import Ordering, PageSlice, bound_slice, ordering_shape, slice_values
from tracker.db.repository.prebuilt import prebuilt
from tracker.db.repository.stored_times import as_stored

__all__ = ["POSTMAN_COLUMNS", "PostmanFilter", "event_details", "postman_email", "postman_emails",
           "postman_emails_statement", "postman_ordering"]

# What a Postman email shows, in this order (a row is read by position: tracker.http.compat.postman):
# the delivery's times (as stored: naive UTC), its status and failure (its shown outcome), its message's
# fields (all None without a message; message_row is its id, None then). The sort keys are among them
# under their own keys, for the page marks (paging.row_values).
_SELECTED = tuple(as_stored(
    Delivery.id, Delivery.message_id, Delivery.recipient, Delivery.created_at, Delivery.updated_at,
    Delivery.submitted_at, Delivery.sent_at, Delivery.delivered_at, Delivery.first_opened_at,
    Delivery.status, Delivery.precedence, Delivery.status_type, Delivery.bounce_type, Delivery.bounce_subtype,
    Delivery.diagnostic,
    Delivery.failure_status, Delivery.failure_precedence, Delivery.failure_type, Delivery.failure_bounce_type,
    Delivery.failure_bounce_subtype, Delivery.failure_diagnostic,
    Message.id.label("message_row"), Message.from_address, Message.subject, Message.params,
    Message.attachments_metadata, Message.cc, Message.bcc, Message.attributes,
))
POSTMAN_COLUMNS = tuple(column.key for column in _SELECTED)

# The keys Postman sorts by, each served by an (account_id, <key>, id) index.
_SORTABLE = {"created_at": Delivery.created_at, "updated_at": Delivery.updated_at}


@dataclasses.dataclass(frozen=True)
class PostmanFilter:
    """What a Postman list request selects; an empty field selects on nothing."""
    shown: ShownStatuses | None = None  # the status parameter
    created: tuple[Span, ...] = ()  # created_at within each
    tag: str | None = None  # the message's "tag" tag


def postman_ordering(keys: Sequence[tuple[str, bool]]) -> Ordering:
    """(created_at | updated_at, descending) pairs as a paging ordering; the id breaks ties in the
    first key's direction, so (account_id, <key>, id) serves the order."""
    return [(_SORTABLE[name], descending) for name, descending in keys] + [(Delivery.id, keys[0][1])]


def postman_emails_statement(account_id: int, where: PostmanFilter, page: PageSlice):
    """The page's query, served by (account_id, created_at|updated_at, id), with its values (to explain it)."""
    statement, values = _page(account_id, where, page)
    return statement.params(values)


def postman_emails(connection: Connection, account_id: int, where: PostmanFilter, page: PageSlice) -> list:
    """Rows of POSTMAN_COLUMNS of one page of the account's emails."""
    return driver_reads.rows(connection, *_page(account_id, where, page))


def _page(account_id: int, where: PostmanFilter, page: PageSlice) -> tuple:
    """(the page query of this shape, built once, its values bound; the values)."""
    # The shown statuses come from the API's vocabulary: part of the shape. Times and the tag are
    # the caller's: bound.
    shape = ("postman", where.shown, tuple(span_shape(span) for span in where.created), where.tag is not None,
             ordering_shape(page.ordering), page.mark is not None)
    values = {"account_id": account_id, **slice_values(page)}
    if where.tag is not None:
        values["tag"] = where.tag
    for n, span in enumerate(where.created):
        values.update(span_values(f"created_{n}", span))
    return prebuilt(shape, lambda: _page_statement(where, page)), values


def _page_statement(where: PostmanFilter, page: PageSlice):
    statement = columns_with_messages(bindparam("account_id"), *_SELECTED)
    if where.shown is not None:
        statement = statement.where(shown_in(where.shown))
    for n, span in enumerate(where.created):
        statement = statement.where(*bound_within(Delivery.created_at, f"created_{n}", span))
    if where.tag is not None:  # registered as a string, or SES's list of values
        tag = bindparam("tag")
        statement = statement.where(or_(Message.attributes[("tags", "tag")].as_string() == tag,
                                        Message.attributes[("tags", "tag", 0)].as_string() == tag))
    return bound_slice(statement, page.ordering, page.mark is not None)


# One email by id: the same shape every time, its values bound.
_ONE = columns_with_messages(bindparam("account_id"), *_SELECTED).where(Delivery.id == bindparam("delivery_id"))


def postman_email(connection: Connection, account_id: int, delivery_id: int):
    """The row of POSTMAN_COLUMNS of the account's email ``delivery_id``, or None."""
    return driver_reads.first(connection, _ONE, {"account_id": account_id, "delivery_id": delivery_id})


# Built once, the identities bound as one expanding parameter (building the IN as an expression
# per request cost more than running it).
_DETAILS = (select(DeliveryEvent.message_id, DeliveryEvent.recipient, DeliveryEvent.event_key, DeliveryEvent.details)
            .where(DeliveryEvent.account_id == bindparam("account_id"),
                   tuple_(DeliveryEvent.message_id, DeliveryEvent.recipient, DeliveryEvent.event_key)
                   .in_(bindparam("identities", expanding=True))))


def event_details(connection: Connection, account_id: int,
                  identities: Sequence[tuple[str, str, str]]) -> dict[tuple[str, str, str], dict]:
    """(message id, recipient, event key) -> what that history event of the account said beyond
    the delivery row (its details), in one query; identities without an event are left out."""
    if not identities:
        return {}
    rows = driver_reads.rows(connection, _DETAILS, {"account_id": account_id, "identities": list(identities)})
    return {(message_id, recipient, key): details or {} for message_id, recipient, key, details in rows}
