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
from datetime import datetime, timezone

from flask import Blueprint, g, jsonify, request
from sqlalchemy import and_, case, select

from tracker.db import keys
from tracker.http import credentials, moments, page_marks
from tracker.http.auth import guarded
from tracker.domain import Status
from tracker.http.errors import ApiError
from tracker.db.models import Delivery, Message
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

# Sorting by status sorts by the word shown (ACKNOWLEDGED, BOUNCED, ... SENT), not the rank.
SHOWN_STATUS = case(*[(Delivery.status == status.value, word) for status, word in STATUS.items()],
                    else_=Delivery.status).label("elevate_status")

FIELDS = ("id", "recipientEmail", "createdDateTime", "updatedDateTime", "status", "message", "bounceType",
          "billRunType", "billRunId", "customerId", "siteId", "contactId")
SORTABLE = {"id": Delivery.id, "recipientEmail": Delivery.recipient, "createdDateTime": Delivery.created_at,
            "updatedDateTime": Delivery.updated_at, "status": SHOWN_STATUS}
DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 100, 1000
# A page whose previous page was read (within page_marks.MARK_TTL) continues from where
# that one ended, by keyset, at any depth. Other pages are OFFSET pages, whose cost grows
# with the offset: past this many rows a client should narrow by updatedDateTime=gt:...
MAX_OFFSET = 10_000


def _elevate_caller():
    """Elevate's caller: ``Authorization: Bearer <JWT>`` (or the plain API key)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "unauthorized", "send Authorization: Bearer <JWT>")
    caller = credentials.caller_from_authorization(f"Bearer {token}")
    if caller is None:
        detail = ("the API key is unknown or revoked" if token.startswith(keys.PREFIX)
                  else credentials.jwt_refusal(token))
        raise ApiError(401, "unauthorized", detail)
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
    statement = (select(Delivery, Message, SHOWN_STATUS)
                 .outerjoin(Message, and_(Message.account_id == Delivery.account_id,
                                          Message.message_id == Delivery.message_id))
                 .where(Delivery.account_id == g.account_id))
    statement = _filter(statement, args)
    with services().db.session() as session:
        rows = session.execute(pager.page(statement, page_size)).all()
    pager.remember(rows, page_size)
    return jsonify([_item(delivery, message, fields) for delivery, message, _ in rows])


def _filter(statement, args):
    if "status" in args:
        wanted = args["status"].upper()
        if wanted not in CANONICAL:
            raise ApiError(400, "invalid_request", f"status must be one of {', '.join(sorted(CANONICAL))}")
        statement = statement.where(Delivery.status.in_(CANONICAL[wanted]))
    if "bounceType" in args:
        bounce_type = args["bounceType"].upper()
        if bounce_type not in ("PERMANENT", "TRANSIENT", "UNDETERMINED"):
            raise ApiError(400, "invalid_request", "bounceType must be PERMANENT, TRANSIENT or UNDETERMINED")
        statement = statement.where(Delivery.bounce_type == bounce_type)
    for name in ("billRunType", "billRunId"):
        if name in args:
            statement = statement.where(Message.attributes[name].as_string() == args[name])
    for name, column in (("createdDateTime", Delivery.created_at), ("updatedDateTime", Delivery.updated_at)):
        if name in args:
            statement = statement.where(*_time_conditions(name, args[name], column))
    return statement


def _time_conditions(name: str, raw: str, column) -> list:
    """`T`, `lt:T`, `gt:T`, comma-separated, compared with the times as shown: to the second
    (tracker.http.moments), so gt:<a time seen> is exactly the rows shown later. A bare T
    means that second."""
    conditions = []
    for part in _parts(raw):
        operator, _, value = part.partition(":") if part[:3] in ("lt:", "gt:") else ("eq", "", part)
        moment = _timestamp(name, value)
        if operator == "lt":
            conditions.append(moments.shown_before(column, moment, moments.SECOND))
        elif operator == "gt":
            conditions.append(moments.shown_after(column, moment, moments.SECOND))
        else:
            conditions.append(and_(moments.shown_from(column, moment, moments.SECOND),
                                   moments.shown_until(column, moment, moments.SECOND)))
    return conditions


def _timestamp(name: str, value: str) -> datetime:
    try:
        return moments.parse(value)
    except ValueError:
        raise ApiError(400, "invalid_request", f"{name}: {value!r} is not yyyy-MM-ddTHH:mm:ssZ",
                       parameter=name) from None


def _parts(raw: str) -> list[str]:
    """A comma-delimited list; "|" separates too, as in the seed's examples."""
    return [p.strip() for p in re.split(r"[,|]", raw) if p.strip()]


def _sort(raw: str | None) -> list[tuple[object, bool]]:
    """(column, descending) pairs, the id last so that the order is total."""
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
    return order if "id" in seen else order + [(Delivery.id, False)]


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
        raise ApiError(400, "invalid_request", f"{name} must be between {minimum} and {maximum or 'any'}")
    return value


def _item(delivery: Delivery, message: Message | None, fields: tuple[str, ...]) -> dict:
    attributes = message.attributes if message is not None else {}
    status = STATUS[Status(delivery.status)]
    item = {
        "id": delivery.id,
        "recipientEmail": delivery.recipient,
        "createdDateTime": _iso(delivery.created_at),
        "updatedDateTime": _iso(delivery.updated_at),
        "status": status,
        "message": _message(delivery),
        "bounceType": delivery.bounce_type if delivery.bounce_type else None,
        "billRunType": attributes.get("billRunType"),
        "billRunId": _number(attributes.get("billRunId")),
        "customerId": _number(attributes.get("customerId")),
        "siteId": _number(attributes.get("siteId")),
        "contactId": _number(attributes.get("contactId")),
    }
    return {name: item[name] for name in fields}


def _message(delivery: Delivery) -> str | None:
    """The document's form, "failed, 5.3.0, smtp; 550 RCPT TO:<...> User unknown": the DSN's
    action and status code, then the diagnostic, each when the provider said it."""
    parts = [part for part in (delivery.smtp_action, delivery.smtp_status, delivery.diagnostic) if part]
    return ", ".join(parts) if parts else None


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _number(value):
    """Elevate's ids are integers; tag values are strings: give numbers back as numbers."""
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value
