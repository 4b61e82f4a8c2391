"""Reads of the SendCloud style (tracker.http.compat.sendcloud): a page of email statuses and its total.

SendCloud's status and subStatus are derived from a delivery's shown outcome by the style's
tables (tracker.http.compat.sendcloud.mapping); filtering on them builds the same derivation
in SQL from those same tables, handed in as SendCloudCodes, so what is shown and what is
filtered always agree.
"""
from __future__ import annotations

import dataclasses
from collections import namedtuple
from collections.abc import Mapping, Sequence

from sqlalchemy import Integer, and_, bindparam, case, false, func, literal, null, or_, select
from sqlalchemy.engine import Connection

from tracker.db import driver_reads
from tracker.db.models import Delivery, Message
from tracker.db.repository.like_patterns import ESCAPE, containing
from tracker.db.repository.compat_filters import Span, bound_within, columns_with_messages, span_shape, span_values
from tracker.db.repository.paging import Ordering, PageSlice, bound_slice, ordering_shape, slice_values
from tracker.db.repository.prebuilt import prebuilt
from tracker.db.repository.stored_times import as_stored
from tracker.domain import ACKNOWLEDGEABLE, BounceType, Status

__all__ = ["SENDCLOUD_COLUMNS", "SENDCLOUD_ORDERING", "SendCloudCodes", "SendCloudFilter",
           "sendcloud_statuses"]

# requestTime order, off (account_id, submitted_at, id); a page whose previous page was read
# starts where that one ended (tracker.http.page_marks).
SENDCLOUD_ORDERING: Ordering = ((Delivery.submitted_at, False), (Delivery.id, False))
# What a SendCloud item shows, in this order (a row is read by position: tracker.http.compat.sendcloud):
# the delivery's identity and times (as stored: naive UTC), its status and failure (its shown outcome).
# The sort keys are among them under their own keys, for the page marks (paging.row_values).
_SELECTED = tuple(as_stored(Delivery.id, Delivery.message_id, Delivery.recipient, Delivery.provider,
                            Delivery.created_at, Delivery.submitted_at, Delivery.status_at,
                            Delivery.status, Delivery.bounce_type, Delivery.bounce_subtype, Delivery.diagnostic,
                            Delivery.failure_status, Delivery.failure_bounce_type, Delivery.failure_bounce_subtype,
                            Delivery.failure_diagnostic))
SENDCLOUD_COLUMNS = tuple(column.key for column in _SELECTED)


@dataclasses.dataclass(frozen=True, eq=False)
class SendCloudCodes:
    """The style's tables: status codes, and the reasons behind subStatus codes. Equal only to
    itself (hashed by identity): statements built from it are kept per tables object."""
    status: Mapping[tuple[Status, BounceType | None], str]  # (status, bounce type) -> status code
    reasons: Mapping[str, tuple[str, str]]  # reason -> (its code under status 4, under status 5)
    subtypes: Mapping[tuple[str, str], str]  # (provider, bounce subtype) -> reason
    diagnostics: Sequence[tuple[str, str]]  # (pattern in subtype or diagnostic, reason)


@dataclasses.dataclass(frozen=True)
class SendCloudFilter:
    """What a SendCloud request selects; an empty field selects on nothing."""
    sent: Span  # submitted_at (requestTime) within it
    recipients: tuple[str, ...] | None = None  # the email: () when it is no address (nothing found)
    email_ids: tuple[tuple[str, str | None], ...] | None = None  # (message id, recipient or None): any of them
    label_id: str | None = None
    label_name: str | None = None  # a substring of the message's labelName
    status_codes: frozenset[str] = frozenset()
    sub_status_codes: frozenset[str] = frozenset()


def sendcloud_statuses(connection: Connection, account_id: int, where: SendCloudFilter, codes: SendCloudCodes,
                       page: PageSlice, *, count_cap: int, counted: int | None = None) -> tuple[int, list]:
    """(how many deliveries ``where`` selects, up to ``count_cap``; the page's rows of SENDCLOUD_COLUMNS).
    ``counted``: that number as the caller already has it (a walk's first page counted it): not counted again."""
    values = {"account_id": account_id, "count_cap": count_cap, **slice_values(page), **span_values("sent", where.sent),
              **({"recipient": where.recipients[0]} if where.recipients else {}),
              **({"label_id": where.label_id} if where.label_id is not None else {}),
              **({"label_pattern": containing(where.label_name)} if where.label_name is not None else {})}
    kept = where.email_ids is None  # up to 1,000 ids, each its own shape: built for this request alone
    if not kept:
        count, statement = _statements(where, codes, page)
    else:
        # The status codes come from the API's vocabulary (and the tables from this process):
        # part of the shape. Times, the recipient and the label are the caller's: bound.
        shape = ("sendcloud", codes, span_shape(where.sent),
                 None if where.recipients is None else bool(where.recipients),
                 where.label_id is not None, where.label_name is not None,
                 where.status_codes, where.sub_status_codes, ordering_shape(page.ordering), page.mark is not None)
        count, statement = prebuilt(shape, lambda: _statements(where, codes, page))
    total = counted if counted is not None else driver_reads.scalar(connection, count, values, kept=kept)
    return total, driver_reads.rows(connection, statement, values, kept=kept)


def _statements(where: SendCloudFilter, codes: SendCloudCodes, page: PageSlice) -> tuple:
    """(the capped count, the page query) of ``where``'s and ``page``'s shape, their values bound."""
    # The count reads the messages only when a filter does: with the join (even one PostgreSQL
    # removes) the planner counts by a sequential scan, about twice the time of the index-only
    # scan of (account_id, submitted_at, id) it takes without.
    account_id = bindparam("account_id")
    base = (columns_with_messages(account_id, Delivery.id) if where.label_id is not None or where.label_name is not None
            else select(Delivery.id).where(Delivery.account_id == account_id))
    counted = _filtered(base, where, codes).limit(bindparam("count_cap", type_=Integer()))
    count = select(func.count().label("total")).select_from(counted.subquery())
    statement = _filtered(columns_with_messages(account_id, *_SELECTED), where, codes)
    return count, bound_slice(statement, page.ordering, page.mark is not None)


def _filtered(statement, where: SendCloudFilter, codes: SendCloudCodes):
    """``statement`` (a select of one account's deliveries) narrowed to those the parameters select."""
    statement = statement.where(*bound_within(Delivery.submitted_at, "sent", where.sent))
    if where.recipients is not None:
        statement = statement.where(Delivery.recipient == bindparam("recipient") if where.recipients else false())
    if where.email_ids is not None:
        statement = statement.where(_email_ids(where.email_ids))
    if where.label_id is not None:
        statement = statement.where(Message.attributes["labelId"].as_string() == bindparam("label_id"))
    elif where.label_name is not None:
        statement = statement.where(Message.attributes["labelName"].as_string().ilike(bindparam("label_pattern"),
                                                                                     escape=ESCAPE))
    if where.status_codes:
        statement = statement.where(_status_condition(where.status_codes, codes))
    if where.sub_status_codes:
        statement = statement.where(_sub_status_condition(where.sub_status_codes, codes))
    return statement


def _email_ids(ids: Sequence[tuple[str, str | None]]):
    conditions = []
    for message_id, recipient in ids:
        conditions.append(Delivery.message_id == message_id if recipient is None
                          else and_(Delivery.message_id == message_id, Delivery.recipient == recipient))
    return or_(*conditions) if conditions else false()


# --- the mapping in SQL, built from the style's tables --------------------------------------

_Columns = namedtuple("_Columns", "status bounce_type subtype diagnostic provider")


def _status_sql(c: _Columns, codes: SendCloudCodes):
    whens = []
    for (status, kind), code in codes.status.items():
        if kind is None:
            whens.append((c.status == status.value, code))
        elif kind is not BounceType.UNDETERMINED:
            whens.append((and_(c.status == status.value, c.bounce_type == kind.value), code))
    # a bounce of no or an unknown type counts as UNDETERMINED, as in status_code()
    whens.append((c.status == Status.BOUNCED.value, codes.status[(Status.BOUNCED, BounceType.UNDETERMINED)]))
    return case(*whens)


def _reason_sql(c: _Columns, codes: SendCloudCodes):
    whens = [(and_(c.provider == provider, c.subtype == subtype), found)
             for (provider, subtype), found in codes.subtypes.items()]
    whens += [(or_(c.subtype.regexp_match(pattern), c.diagnostic.regexp_match(pattern)), found)
              for pattern, found in codes.diagnostics]
    return case(*whens, else_="other")


def _effective(expression):
    """expression over the delivery, or over the failure it acknowledged when ACKNOWLEDGED (both on
    the row: tracker.domain DeliveryState.shown).

    An acknowledgement with no failure known (which can_acknowledge never allows) counts as
    an undetermined bounce with nothing known, as the view renders it.
    """
    acknowledged = expression(_Columns(Delivery.failure_status, Delivery.failure_bounce_type,
                                       Delivery.failure_bounce_subtype, Delivery.failure_diagnostic, Delivery.provider))
    own = expression(_Columns(Delivery.status, Delivery.bounce_type, Delivery.bounce_subtype,
                              Delivery.diagnostic, Delivery.provider))
    nothing_known = expression(_Columns(literal(Status.BOUNCED.value), null(), null(), null(), Delivery.provider))
    return case((and_(Delivery.status == Status.ACKNOWLEDGED.value, Delivery.failure_status.is_(None)), nothing_known),
                (Delivery.status == Status.ACKNOWLEDGED.value, acknowledged), else_=own)


def _candidates(wanted: frozenset[str] | set[str], codes: SendCloudCodes) -> list[str]:
    """The canonical statuses that can render as any of ``wanted``: narrows by an index first."""
    found = {status.value for (status, _), code in codes.status.items() if code in wanted}
    return sorted(found | {Status.ACKNOWLEDGED.value} if found & {s.value for s in ACKNOWLEDGEABLE} else found)


def _status_condition(wanted: frozenset[str], codes: SendCloudCodes):
    return and_(Delivery.status.in_(_candidates(wanted, codes)),
                _effective(lambda c: _status_sql(c, codes)).in_(sorted(wanted)))


def _sub_status_condition(wanted: frozenset[str], codes: SendCloudCodes):
    """The derived subStatus is one of ``wanted``: its (status, reason) pair is one that renders so."""
    pairs = sorted(f"{family}:{found}" for family, position in (("4", 0), ("5", 1))
                   for found, pair in codes.reasons.items() if pair[position] in wanted)
    derived = _effective(lambda c: _status_sql(c, codes).concat(":").concat(_reason_sql(c, codes)))
    return and_(Delivery.status.in_(_candidates({"4", "5"}, codes)), derived.in_(pairs))
