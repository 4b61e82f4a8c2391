"""Postman's transactional email API (shared/seeds/004): GET /v1/transactional/email[/<id>], Bearer.

A client written for Postman (postman.gov.sg) works unchanged: same paths, query parameters
(limit, offset, status, created_at[gt|gte|lt|lte], sort_by, exclude_params, tag), defaults,
the ``{has_more, data}`` envelope, item fields and status vocabulary. An email's ``id`` is
the tracker's delivery id. Authentication: ``Authorization: Bearer <API key or JWT>``.
``tag`` and ``classification`` are the message's tags of those names (registered ``tags``
or SES message tags); parameters Postman does not know are refused, as Postman refuses them.

Postman's base URL ends in ``/v1``; the seed writes its examples without it
(``GET /transactional/email?limit=20&offset=10``), so both spellings of each path are served.

Errors are JSON with a ``message``, as Postman's are: 400 in the shape of Postman's request
validation (celebrate: statusCode, error, message, validation.keys), 401 ``Unauthorized``
(Postman answers that word as text; JSON here, so every error parses alike), 404 Postman's
"Email message with ID <id> not found.", 429 Postman's ``{status, message}``, 503 (the
database is away) ``{message}`` with Retry-After.
"""
from __future__ import annotations

import re
from datetime import datetime

from flask import Blueprint, g, jsonify, request
from tracker.http import credentials, moments, page_marks
from tracker.http.auth import guarded
from tracker.http.args import whole_number
from tracker.db import repository
from tracker.domain import ACKNOWLEDGEABLE, Status, event_key_of
from tracker.http.errors import ApiError
from tracker.db.repository import PostmanFilter, ShownStatuses
from tracker.services import services

blueprint = Blueprint("compat_postman", __name__)
PATHS = ("/v1/transactional/", "/transactional/")  # where errors come in Postman's shape (tracker.http.errors)

# canonical status -> Postman status (DESIGN section 3, Postman column)
STATUS = {
    Status.PENDING: "UNSENT",  # registered by the application, nothing heard from the provider yet
    Status.SENT: "SENT",  # the provider's Send event; Postman sets SENT on SES Send too
    Status.RETRY: "SENT",  # provider still trying (DeliveryDelay): Postman has no word for it, still SENT
    Status.DELIVERED: "DELIVERED",
    Status.OPENED: "OPENED",
    Status.ERROR: "UNSENT",  # rejected or not rendered: Postman leaves it UNSENT with an error_code (ERROR_CODE)
    Status.BOUNCED: "BOUNCED",  # error_code "Hard bounce" if permanent else "Soft bounce"; error_sub_type = subtype
    Status.COMPLAINT: "COMPLAINT",  # error_code complaintFeedbackType, error_sub_type complaintSubType
    # ACKNOWLEDGED has no row: it is shown as the failure it acknowledged (the delivery row's
    # failure, tracker.domain DeliveryState.shown).
}
# Postman's seven statuses, all accepted by the status filter. ACCEPTED (SES took the
# message over SMTP, before its Send event) is something only the sending application
# sees; no tracker status maps there, so status=ACCEPTED is valid and finds nothing.
POSTMAN_STATUSES = ("UNSENT", "ACCEPTED", "SENT", "BOUNCED", "DELIVERED", "OPENED", "COMPLAINT")
# ERROR's error_code is the provider's reason (SES Reject "reason", Rendering Failure
# "errorMessage"), else this word for the event; error_sub_type names the SES event.
ERROR_CODE = {"rejected": "Rejected", "rendering_failed": "Rendering failure"}
ERROR_SUB_TYPE = {"rejected": "Reject", "rendering_failed": "Rendering Failure"}
HARD_BOUNCE, SOFT_BOUNCE = "Hard bounce", "Soft bounce"  # Postman's own words (formats doc 5.1)

SORTABLE = ("created_at", "updated_at")
OPERATORS = ("gt", "gte", "lt", "lte")
DEFAULT_LIMIT, MAX_LIMIT = 10, 1000
# Paging is by OFFSET, whose cost grows with the offset: past this many rows a client should
# narrow with created_at[lt]=<last created_at seen> (an index range) instead.
MAX_OFFSET = 10_000
_SCALARS = ("limit", "offset", "exclude_params", "tag")
_ARRAY = re.compile(r"^(status|sort_by)(\[\d*\])?$")  # status=A&status=B, status[]=A, status[0]=A
_CREATED = re.compile(r"^created_at\[(\w*)\]$")
TOO_MANY = "Too many requests. Please try again later."


class PostmanError(Exception):
    """An error answered in Postman's own JSON shape."""

    def __init__(self, status: int, body: dict, headers: dict | None = None) -> None:
        super().__init__(body.get("message"))
        self.status, self.body, self.headers = status, body, headers or {}


@blueprint.errorhandler(PostmanError)
def _postman_error(error: PostmanError):
    response = jsonify(error.body)
    response.status_code = error.status
    response.headers |= error.headers
    return response


def render_error(error: ApiError):
    """Any refusal under Postman's paths in Postman's shape: 400 as its request validation,
    401 and 429 as the views answer them, anything else (404, 405, 503...) a ``message``."""
    if error.status == 400:
        keys = [error.parameter] if error.parameter else []
        refusal = PostmanError(400, {"statusCode": 400, "error": "Bad Request", "message": error.detail,
                                     "validation": {"source": error.source or "query", "keys": keys}})
    elif error.status == 401:
        refusal = PostmanError(401, {"message": "Unauthorized"})
    elif error.status == 429:
        refusal = PostmanError(429, {"status": 429, "message": TOO_MANY})
    else:
        refusal = PostmanError(error.status, {"message": error.detail or error.error})
    refusal.headers |= error.headers
    return _postman_error(refusal)


def _invalid(key: str, message: str) -> PostmanError:
    """Postman's 400 for a query that fails validation (celebrate's shape)."""
    return PostmanError(400, {"statusCode": 400, "error": "Bad Request", "message": message,
                              "validation": {"source": "query", "keys": [key]}})


def postman_status(status: Status) -> str:
    """The Postman word for a delivery's shown status (ACKNOWLEDGED only when no failure is known: as ERROR)."""
    return STATUS[Status.ERROR if status is Status.ACKNOWLEDGED else status]


def _postman_caller():
    """Postman's caller: ``Authorization: Bearer <API key or JWT>``."""
    caller = credentials.caller_from_authorization(request.headers.get("Authorization", ""))
    if caller is None:
        raise ApiError(401, "unauthorized", "Unauthorized", {"WWW-Authenticate": 'Bearer realm="postman"'})
    return caller


require_postman_auth = guarded("postman", _postman_caller, render=render_error, too_many=TOO_MANY)


@blueprint.get("/v1/transactional/email", strict_slashes=False)
@blueprint.get("/transactional/email", strict_slashes=False)  # the seed's examples, as written
@require_postman_auth
def list_emails():
    query = parse_query(request.args)
    pager = page_marks.OffsetPager(services().page_marks, g.account_id, "postman",
                                   page_marks.query_identity(request.args, ("offset", "limit", "exclude_params")),
                                   query["order"], query["offset"])
    if pager.mark is None and pager.offset > MAX_OFFSET:
        raise _invalid("offset", f'"offset" must be less than or equal to {MAX_OFFSET} unless the pages before it '
                       "were read in order; narrow with created_at[lt]=<the last created_at seen> instead")
    # One kept connection in autocommit, its statements run on the driver where they can
    # (tracker.db.driver_reads): no session, no BEGIN/ROLLBACK; rows of the shown columns only.
    with services().db.driver_reading() as connection:
        # One row more than asked says whether there is more, without a count.
        rows = repository.postman_emails(connection, g.account_id, query["where"], pager.slice(query["limit"] + 1))
        page = rows[:query["limit"]]
        data = _items(connection, page, query["exclude_params"])
    pager.remember(rows, query["limit"])
    return jsonify({"has_more": len(rows) > query["limit"], "data": data})


@blueprint.get("/v1/transactional/email/<email_id>")
@blueprint.get("/transactional/email/<email_id>")
@require_postman_auth
def get_email(email_id: str):
    if not email_id.isascii() or not email_id.isdigit():
        raise PostmanError(400, {"statusCode": 400, "error": "Bad Request", "message": '"emailId" must be a number',
                                 "validation": {"source": "params", "keys": ["emailId"]}})
    not_found = PostmanError(404, {"message": f"Email message with ID {email_id} not found."})
    number = whole_number(email_id)
    if number >= 2 ** 63:  # past a bigint no email is
        raise not_found
    with services().db.driver_reading() as connection:
        row = repository.postman_email(connection, g.account_id, number)
        if row is None:
            raise not_found
        return jsonify(_items(connection, [row], exclude_params=False)[0])


def list_statement(account_id: int, query: dict, pager: page_marks.OffsetPager):
    """The page's query (to explain it): one row more than asked."""
    return repository.postman_emails_statement(account_id, query["where"], pager.slice(query["limit"] + 1))


def parse_query(args) -> dict:
    """The query string as Postman validates it: unknown or repeated parameters are errors."""
    statuses: list[str] = []
    sorts: list[str] = []
    created: dict[str, str] = {}
    for key in args:
        values = args.getlist(key)
        array = _ARRAY.match(key)
        if array:
            (statuses if array.group(1) == "status" else sorts).extend(
                part for value in values for part in value.split(","))
            continue
        if len(values) > 1:
            raise _invalid(key, f'"{key}" must be given once')
        operator = _CREATED.match(key)
        if operator:
            if operator.group(1) not in OPERATORS:
                raise _invalid(key, f'"created_at.{operator.group(1)}" is not allowed; use gt, gte, lt or lte')
            created[operator.group(1)] = values[0]
        elif key == "created_at":
            raise _invalid(key, '"created_at" must be of type object: created_at[gt|gte|lt|lte]=<ISO 8601>')
        elif key not in _SCALARS:
            raise _invalid(key, f'"{key}" is not allowed')
    where = PostmanFilter(shown=_status_condition(statuses) if statuses else None,
                          created=tuple(_created_condition(operator, raw) for operator, raw in created.items()),
                          tag=args.get("tag"))
    return {
        "limit": _integer(args, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
        "offset": _integer(args, "offset", 0, 0, 2 ** 31 - 1),  # past MAX_OFFSET only from a page mark
        "exclude_params": _boolean(args, "exclude_params"),
        "where": where,
        "order": _order(sorts),
    }


def _integer(args, key: str, default: int, minimum: int, maximum: int) -> int:
    raw = args.get(key)
    if raw is None:
        return default
    if not re.fullmatch(r"\s*[+-]?\d+\s*", raw):
        raise _invalid(key, f'"{key}" must be an integer')
    value = whole_number(raw)
    if value < minimum:
        raise _invalid(key, f'"{key}" must be greater than or equal to {minimum}')
    if value > maximum:
        raise _invalid(key, f'"{key}" must be less than or equal to {maximum}')
    return value


def _boolean(args, key: str) -> bool:
    raw = args.get(key, "false").strip().lower()
    if raw not in ("true", "false"):
        raise _invalid(key, f'"{key}" must be a boolean')
    return raw == "true"


def _status_condition(values: list[str]) -> ShownStatuses:
    """Emails whose Postman status is any of ``values`` (comma-separated or repeated, any case)."""
    wanted = {value.strip().upper() for value in values}
    unknown = sorted(wanted - set(POSTMAN_STATUSES))
    if unknown:
        raise _invalid("status", f'"status" must be one of [{", ".join(POSTMAN_STATUSES)}]; '
                                 f'got {", ".join(map(repr, unknown))}')
    canonical = sorted(s.value for s, word in STATUS.items() if word in wanted)
    # An acknowledged delivery has the word of the failure it acknowledged (stored on its row;
    # with none known it reads as ERROR does, postman_status()).
    failures = sorted(status.value for status in ACKNOWLEDGEABLE if STATUS[status] in wanted)
    return ShownStatuses(tuple(canonical), tuple(failures), acknowledged_unknown=Status.ERROR.value in failures)


def _created_condition(operator: str, raw: str):
    """created_at compared as shown, to the millisecond (tracker.http.moments): [gt]=<a created_at
    seen> is exactly the emails shown later, [lte]=<it> includes that email."""
    moment = _moment(f"created_at.{operator}", raw)
    shown = {"gt": moments.shown_after, "gte": moments.shown_from, "lt": moments.shown_before,
             "lte": moments.shown_until}[operator]
    return shown(moment, moments.MILLISECOND)


def _moment(key: str, raw: str) -> datetime:
    """An ISO 8601 date or time; UTC when it names no zone (as Postman documents)."""
    try:
        return moments.parse(raw)
    except ValueError:
        raise _invalid(key, f'"{key}" must be in ISO 8601 date format') from None


def _order(raw: list[str]) -> list:
    """sort_by: created_at / updated_at, "+" ascending, "-" or no prefix descending.

    An unencoded "+" arrives as a space, so a leading space means ascending too.
    """
    order, seen = [], set()
    for part in raw or ["created_at"]:
        ascending = part[:1] in ("+", " ")
        name = part[1:].strip() if part[:1] in ("+", "-", " ") else part.strip()
        if name not in SORTABLE or name in seen:
            raise _invalid("sort_by", f'"sort_by" with value "{part}" must be one of [created_at, +created_at, '
                           '-created_at, updated_at, +updated_at, -updated_at], each at most once')
        seen.add(name)
        order.append((name, not ascending))
    return repository.postman_ordering(order)  # the id last, in the first key's direction


# Status value -> the Postman word for it as a shown status (postman_status).
_WORDS = {status.value: postman_status(status) for status in Status}
_ACKNOWLEDGED, _COMPLAINT = Status.ACKNOWLEDGED.value, Status.COMPLAINT.value
_UNSENT = STATUS[Status.PENDING]


def _shown(row) -> tuple:
    """(status, precedence, type, bounce type, bounce subtype, diagnostic) of the row's shown outcome:
    an acknowledgement shows the failure it acknowledged (tracker.domain DeliveryState.shown)."""
    if row[9] == _ACKNOWLEDGED and row[15] is not None:
        return row[15:21]
    return row[9:15]


def _items(connection, rows, exclude_params: bool) -> list[dict]:
    """The emails of rows of repository.POSTMAN_COLUMNS. A complaint's words are what the event
    behind it said beyond the row: those events are read in one query, for the complaints only."""
    shown = [_shown(row) for row in rows]
    wanted = [(row[1], row[2], event_key_of(outcome[1])) for row, outcome in zip(rows, shown, strict=True)
              if outcome[0] == _COMPLAINT and outcome[1]]
    details = repository.event_details(connection, g.account_id, wanted)
    return [_item(row, outcome, details, exclude_params) for row, outcome in zip(rows, shown, strict=True)]


def _item(row, shown: tuple, details: dict, exclude_params: bool) -> dict:
    """One email from its row and its shown outcome; ``details``: see _items."""
    (id_, message_id, recipient, created_at, updated_at, submitted_at, sent_at, delivered_at, first_opened_at,
     *_, message_row, from_address, subject, params, attachments_metadata, cc, bcc, attributes) = row
    status, precedence, type_, bounce_type, bounce_subtype, diagnostic = shown
    if status == "BOUNCED":
        error_code, error_sub_type = (HARD_BOUNCE if bounce_type == "PERMANENT" else SOFT_BOUNCE), bounce_subtype
    elif status == _COMPLAINT:
        said = details.get((message_id, recipient, event_key_of(precedence)), {}) if precedence else {}
        error_code, error_sub_type = _text(said.get("complaintFeedbackType")), _text(said.get("complaintSubType"))
    elif status in ("ERROR", _ACKNOWLEDGED):  # ACKNOWLEDGED: no failure known, read as ERROR
        kind = type_ if status == "ERROR" else None
        error_code, error_sub_type = diagnostic or ERROR_CODE.get(kind, "Error"), ERROR_SUB_TYPE.get(kind)
    else:
        error_code = error_sub_type = None
    present = message_row is not None
    tags = (attributes or {}).get("tags") if present else None
    word = _WORDS[status]
    # The provider's send time, once a provider said it sent; never on an UNSENT email, which in
    # Postman's lifecycle comes before ACCEPTED and SENT (a rejection's SES mail.timestamp is no send).
    sent = _iso(submitted_at) if sent_at and word != _UNSENT else None
    item = {
        "id": id_,
        "from": from_address,
        "recipient": recipient,
        "params": _params(params, from_address, subject) if present else None,
        "attachments_metadata": attachments_metadata,
        "status": word,
        "error_code": error_code,
        "error_sub_type": error_sub_type,
        "created_at": _iso(created_at),
        "updated_at": _iso(updated_at),
        "accepted_at": sent,
        "sent_at": sent,
        "delivered_at": _iso(delivered_at),
        "opened_at": _iso(first_opened_at),
        "classification": _tag_value(tags, "classification") if tags else None,
        "tag": _tag_value(tags, "tag") if tags else None,
        "cc": cc,
        "bcc": bcc,
    }
    if exclude_params:
        del item["params"]
    return item


def _params(params, from_address, subject) -> dict | None:
    """The registered params; for a message only events told of, what they said (from, subject)."""
    if params is not None:
        return params
    known = {"from": from_address, "subject": subject}
    return {name: value for name, value in known.items() if value is not None} or None


def _tag_value(tags, name: str) -> str | None:
    value = tags.get(name) if isinstance(tags, dict) else None
    if isinstance(value, list):
        value = value[0] if value else None
    return _text(value)


def _text(value) -> str | None:
    return value if isinstance(value, str) else None


def _iso(moment: datetime | None) -> str | None:
    """JavaScript's toISOString(), as Postman renders times: 2024-09-02T01:34:37.342Z."""
    if moment is None:
        return None
    return moments.written(moment, "milliseconds")
