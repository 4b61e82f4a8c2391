"""Elevate's email status API (shared/seeds/000): GET /v1/email-status, Bearer JWT.

A client written for Elevate works unchanged: same path, parameters, item fields and
status vocabulary. Authentication: a JWT signed HS256 with one of the account's API keys,
its ``kid`` header naming the key id (the part after ``trk_``); the plain API key is
accepted too. The status mapping below is the Elevate column of DESIGN section 3.

The seed's curl example sends its parameters literally as the document writes them:
``sort=id,name | name:desc`` ("|" separating the document's alternatives), ``fields=id,name``
(a generic template: email statuses have no ``name``) and ``createdDateTime=T , lt:T , gt:T``.
So "|" separates like ",", and names the resource does not have are skipped in ``sort`` and
``fields`` as long as one known name remains (only unknown names, or a bad direction, is a
400). A "+" of a zone offset sent unencoded arrives as a space and is read as "+".
"""
from __future__ import annotations

import re
from datetime import datetime

from flask import Blueprint, g, request
from tracker.db import keys, repository
from tracker.http import credentials, json_out, moments, page_marks
from tracker.http.auth import guarded
from tracker.domain import Status
from tracker.http.errors import ApiError
from tracker.db.repository import ElevateFilter, Span
from tracker.services import services

blueprint = Blueprint("elevate_api", __name__)

# canonical status -> Elevate status (DESIGN section 3)
STATUS = {
    Status.PENDING: "SENT",  # registered, nothing heard from the provider yet
    Status.SENT: "SENT",
    Status.RETRY: "RETRY",
    Status.DELIVERED: "DELIVERED",
    Status.OPENED: "DELIVERED",  # Elevate has no OPENED: an opened email was delivered
    Status.ERROR: "ERROR",
    Status.BOUNCED: "BOUNCED",  # with bounceType PERMANENT / TRANSIENT / UNDETERMINED
    Status.COMPLAINT: "COMPLAINT",
    Status.ACKNOWLEDGED: "ACKNOWLEDGED",
}
# Elevate status -> the canonical statuses it stands for (the status filter)
CANONICAL = {elevate: sorted(s.value for s, e in STATUS.items() if e == elevate) for elevate in set(STATUS.values())}

# canonical status value -> Elevate status: what an item shows. Sorting by status sorts by the
# word shown (ACKNOWLEDGED, BOUNCED, ... SENT), not the rank.
WORDS = {status.value: word for status, word in STATUS.items()}

FIELDS = ("id", "recipientEmail", "createdDateTime", "updatedDateTime", "status", "message", "bounceType",
          "billRunType", "billRunId", "customerId", "siteId", "contactId")
# sortable field -> the repository's sort key (tracker.db.repository.elevate_ordering)
SORTABLE = {"id": "id", "recipientEmail": "recipient", "createdDateTime": "created_at",
            "updatedDateTime": "updated_at", "status": "status"}
DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 100, 1000
# A page whose previous page was read (within page_marks.MARK_TTL) continues from where
# that one ended, by keyset, at any depth. Other pages are OFFSET pages, whose cost grows
# with the offset: past this many rows a client should narrow by updatedDateTime=gt:...
MAX_OFFSET = 10_000


# RFC 9110 15.5.2: a 401 carries a challenge; RFC 6750 3 spells Bearer's.
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="elevate"'}


def _elevate_caller():
    """Elevate's caller: ``Authorization: Bearer <JWT>`` (or the plain API key)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "unauthorized", "send Authorization: Bearer <JWT>", dict(_CHALLENGE))
    caller = credentials.caller_from_authorization(f"Bearer {token}")
    if caller is None:
        detail = ("the API key is unknown or revoked" if token.startswith(keys.PREFIX)
                  else credentials.jwt_refusal(token))
        raise ApiError(401, "unauthorized", detail, dict(_CHALLENGE))
    return caller


require_elevate_auth = guarded("elevate", _elevate_caller)


@blueprint.get("/v1/email-status")
@require_elevate_auth
def email_status():
    args = request.args
    page = _integer(args, "page", 1, minimum=1)
    page_size = _integer(args, "pageSize", DEFAULT_PAGE_SIZE, minimum=1, maximum=MAX_PAGE_SIZE)
    fields = _fields(args.get("fields"))
    pager = page_marks.OffsetPager(services().page_marks, g.account_id, "elevate",
                                   page_marks.query_identity(args, ("page", "pageSize", "fields")),
                                   _sort(args.get("sort")), (page - 1) * page_size)
    if pager.mark is None and pager.offset > MAX_OFFSET:
        raise ApiError(400, "invalid_request", f"page * pageSize may not pass {MAX_OFFSET} rows unless the pages "
                       "before it were read in order; narrow with updatedDateTime=gt:<last updatedDateTime seen>")
    where = _filter(args)
    # One kept connection in autocommit, its statements run on the driver where they can
    # (tracker.db.driver_reads): no session, no BEGIN/ROLLBACK; rows of the shown columns only.
    with services().db.driver_reading() as connection:
        rows = repository.elevate_statuses(connection, g.account_id, where, pager.slice(page_size), WORDS)
    pager.remember(rows, page_size)
    return json_out.response([_item(row, fields) for row in rows], times=json_out.TO_THE_SECOND)


def _filter(args) -> ElevateFilter:
    statuses = bounce_type = None
    if "status" in args:
        wanted = args["status"].upper()
        if wanted not in CANONICAL:
            raise ApiError(400, "invalid_request", f"status must be one of {', '.join(sorted(CANONICAL))}")
        statuses = tuple(CANONICAL[wanted])
    if "bounceType" in args:
        bounce_type = args["bounceType"].upper()
        if bounce_type not in ("PERMANENT", "TRANSIENT", "UNDETERMINED"):
            raise ApiError(400, "invalid_request", "bounceType must be PERMANENT, TRANSIENT or UNDETERMINED")
    spans = tuple((key, span) for name, key in (("createdDateTime", "created_at"), ("updatedDateTime", "updated_at"))
                  if name in args for span in _time_spans(name, args[name]))
    return ElevateFilter(statuses=statuses, bounce_type=bounce_type, spans=spans,
                         attributes=tuple((name, args[name]) for name in ("billRunType", "billRunId") if name in args))


def _time_spans(name: str, raw: str) -> list[Span]:
    """`T`, `lt:T`, `gt:T`, comma-separated, compared with the times as shown: to the second
    (tracker.http.moments), so gt:<a time seen> is exactly the rows shown later. A bare T
    means that second."""
    spans = []
    for part in _parts(raw):
        operator, _, value = part.partition(":") if part[:3] in ("lt:", "gt:") else ("eq", "", part)
        moment = _timestamp(name, value)
        shown = {"lt": moments.shown_before, "gt": moments.shown_after}.get(operator, moments.shown_at)
        spans.append(shown(moment, moments.SECOND))
    return spans


def _timestamp(name: str, value: str) -> datetime:
    try:
        return moments.parse(value)
    except ValueError:
        raise ApiError(400, "invalid_request", f"{name}: {value!r} is not yyyy-MM-ddTHH:mm:ssZ",
                       parameter=name) from None


def _parts(raw: str) -> list[str]:
    """A comma-delimited list; "|" separates too, as in the seed's examples."""
    return [p.strip() for p in re.split(r"[,|]", raw) if p.strip()]


def _sort(raw: str | None):
    """The ordering of (sort key, descending) pairs, the id last so that the order is total."""
    order, seen = [], set()
    parts = _parts(raw or "") or ["id"]
    for part in parts:
        name, _, direction = (p.strip() for p in part.partition(":"))
        if direction.lower() not in ("", "asc", "desc"):
            raise ApiError(400, "invalid_request", f"sort: {part!r}; the direction suffix is :desc (or :asc)")
        column = SORTABLE.get(name)
        if column is None or name in seen:  # a name the resource does not have, or sorted on already
            continue
        seen.add(name)
        order.append((column, direction.lower() == "desc"))
    if not order:
        raise ApiError(400, "invalid_request", f"sort: {raw!r}; sortable fields are {', '.join(SORTABLE)}"
                       " with an optional :desc")
    return repository.elevate_ordering(order if "id" in seen else order + [("id", False)], WORDS)


def _fields(raw: str | None) -> tuple[str, ...]:
    if not raw:
        return FIELDS
    wanted = tuple(dict.fromkeys(f for f in _parts(raw) if f in FIELDS))
    if not wanted:
        raise ApiError(400, "invalid_request", f"fields: {raw!r} names none of {', '.join(FIELDS)}")
    return wanted


def _integer(args, name: str, default: int, *, minimum: int, maximum: int | None = None) -> int:
    raw = args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw) if raw.isascii() else int("not ASCII digits")  # int() also reads "٣"
    except ValueError:
        raise ApiError(400, "invalid_request", f"{name} must be a whole number", parameter=name) from None
    if value < minimum or (maximum is not None and value > maximum):
        allowed = f"between {minimum} and {maximum}" if maximum is not None else f"{minimum} or more"
        raise ApiError(400, "invalid_request", f"{name} must be {allowed}", parameter=name)
    return value


def _item(row, fields: tuple[str, ...]) -> dict:
    """An item from a row of repository.ELEVATE_COLUMNS (the status word after them is for sorting)."""
    (id_, recipient, created_at, updated_at, status, smtp_action, smtp_status, diagnostic, bounce_type,
     attributes) = row[:10]
    if attributes:
        get = attributes.get
        bill_run_type, bill_run_id, customer_id, site_id, contact_id = (
            get("billRunType"), _number(get("billRunId")), _number(get("customerId")), _number(get("siteId")),
            _number(get("contactId")))
    else:  # no message registered, or no attributes: half a page, often
        bill_run_type = bill_run_id = customer_id = site_id = contact_id = None
    parts = [part for part in (smtp_action, smtp_status, diagnostic) if part]
    item = {
        "id": id_,
        "recipientEmail": recipient,
        "createdDateTime": created_at,  # as stored, naive UTC: written to the second with a Z (see email_status)
        "updatedDateTime": updated_at,
        "status": WORDS[status],
        # The document's form, "failed, 5.3.0, smtp; 550 RCPT TO:<...> User unknown": the DSN's
        # action and status code, then the diagnostic, each when the provider said it.
        "message": ", ".join(parts) if parts else None,
        "bounceType": bounce_type if bounce_type else None,
        "billRunType": bill_run_type,
        "billRunId": bill_run_id,
        "customerId": customer_id,
        "siteId": site_id,
        "contactId": contact_id,
    }
    return item if fields is FIELDS else {name: item[name] for name in fields}


def _number(value):
    """Elevate's ids are integers; tag values are strings: give numbers back as numbers.

    ASCII digits only, as _integer reads them: str.isdigit() also passes "²", which int()
    refuses, and int() refuses text past 4300 digits; a registered value is anything the
    application sent, and one of those had made every page showing its row a 500."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        try:
            return int(value)
        except ValueError:  # past 4300 digits: as registered
            return value
    return value
