"""Reads of the Postman style (tracker.http.compat.postman): one email, a page of emails."""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from sqlalchemy import or_
from sqlalchemy.orm import Session

from tracker.db.models import Delivery, Message
from tracker.db.repository.compat_filters import ShownStatuses, Span, shown_in, with_messages, within
from tracker.db.repository.paging import Ordering, PageSlice, sliced

__all__ = ["PostmanFilter", "postman_email", "postman_emails", "postman_emails_statement", "postman_ordering"]

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
    """The page's query, served by (account_id, created_at|updated_at, id)."""
    statement = with_messages(account_id)
    if where.shown is not None:
        statement = statement.where(shown_in(where.shown))
    for span in where.created:
        statement = statement.where(*within(Delivery.created_at, span))
    if where.tag is not None:  # registered as a string, or SES's list of values
        statement = statement.where(or_(Message.attributes[("tags", "tag")].as_string() == where.tag,
                                        Message.attributes[("tags", "tag", 0)].as_string() == where.tag))
    return sliced(statement, page)


def postman_emails(session: Session, account_id: int, where: PostmanFilter, page: PageSlice) -> list:
    """(delivery, message or None) rows of one page of the account's emails."""
    return session.execute(postman_emails_statement(account_id, where, page)).all()


def postman_email(session: Session, account_id: int, delivery_id: int):
    """The (delivery, message or None) row of the account's email ``delivery_id``, or None."""
    return session.execute(with_messages(account_id).where(Delivery.id == delivery_id)).first()
