"""SendCloud's email status query (shared/seeds/003): GET|POST /apiv2/data/emailStatus.

A client written for SendCloud works unchanged once its apiKey is one of the account's API
keys: same path, parameters (query string for GET, form fields for POST), envelope, status
labels and subStatus codes. apiUser must be present but may hold any value: it is
SendCloud's sub-account name, which means nothing here (the key alone names the account),
and it is echoed in each item's ``apiUser``. apiUserList is accepted and ignored for the
same reason. Like SendCloud, every answer about the parameters is HTTP 200; failures say
``"result": false`` (statusCode 40200 for a control character in a parameter). The same
envelope keeps the HTTP status for what concerns the request itself: 404, 405 (with Allow),
413, and 503 with Retry-After for a database outage.

Choices where the seed is silent or ambiguous:
- Dates are UTC+8 (provider-formats.md §4.3): days, startDate and endDate name UTC+8
  calendar days, requestTime and modifiedTime are written in UTC+8.
- The window: days=N is today and the N-1 days before it, N in 1..30; startDate/endDate
  both inclusive whole days, endDate - startDate at most 30 days (the parameter table's
  limit; TIPS 2 says "3 months": the stricter 30 days is kept). One of the two forms is
  required; both at once is an error rather than a guess.
- requestTime is when the message was sent as the provider says it (a send event, SES
  mail.timestamp), else when the application registered it, never after the first event
  (tracker.domain.submitted_at): never when the tracker first heard. It is also what the
  window filters on (index (account_id, submitted_at, id)); modifiedTime is when the
  current status happened (status_at), never before requestTime.
- emailId is the delivery's message_id for SendCloud deliveries (already per recipient:
  messageId + index + "$" + recipient); for other providers, whose message ids cover every
  recipient, it is message_id + "$" + recipient. emailIds accepts both forms.
- labelId/labelName filter the message's registered attributes (POST /api/v1/messages or
  SES tags); labelId wins when both are given, labelName alone matches as a substring.
- Items are in requestTime order; start is capped at MAX_START and total is counted up to
  one row past what start/limit can reach, so neither costs a deep scan.
- Rows are live. total is counted by a walk's first page and handed on to the pages walked from
  it (with the page mark, tracker.http.page_marks) for 10 minutes: SendCloud caches a query's
  result that long (seed TIPS 4), so its clients page on one total, not one that moves between
  pages. A page jumped to (no mark), a total older than that, and a walk whose days=N window
  moved (midnight in Beijing) count anew.
"""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from time import time as epoch_seconds

from flask import Blueprint, Response, g, request
from tracker.http import credentials, json_out, moments, page_marks
from tracker.http.auth import guarded
from tracker.http.args import whole_number
from tracker.http.compat.sendcloud.mapping import (
    DIAGNOSTICS,
    REASONS,
    STATUS,
    SUBTYPES,
    LABELS,
    SUB_STATUS_DESC,
    status_code,
    sub_status,
)
from tracker.domain import Status, normalize_address
from tracker.http.errors import ApiError
from tracker.db import repository
from tracker.db.repository import Caller, SendCloudCodes, SendCloudFilter, Span
from tracker.services import services

blueprint = Blueprint("compat_sendcloud", __name__)
PATHS = ("/apiv2/",)  # where errors come in SendCloud's envelope (tracker.http.errors)

STATUS_CODES = tuple(LABELS)
SUB_STATUS_CODES = tuple(SUB_STATUS_DESC)
DEFAULT_LIMIT, MAX_LIMIT = 100, 100
MAX_DAYS = 30
# start is an OFFSET; past this many rows a client should narrow the window (startDate/
# endDate, status, email) instead, as large offsets cost linear time.
MAX_START = 10_000
# The tables behind status and subStatus, from which the repository builds the same mapping in SQL.
CODES = SendCloudCodes(status=STATUS, reasons=REASONS, subtypes=SUBTYPES, diagnostics=DIAGNOSTICS)
# total is counted up to one row past the last row start/limit can reach: exact below that,
# and a total of COUNT_CAP tells a client paging on that it must narrow the query.
COUNT_CAP = MAX_START + MAX_LIMIT + 1
MAX_EMAIL_IDS = 1000
_UTC8_OFFSET = timedelta(hours=8)
UTC8 = timezone(_UTC8_OFFSET)
OK_MESSAGE = "请求成功"
RATE_LIMITED = {"result": False, "statuscode": 50000, "message": "interface frequency is limited", "info": {}}

# Error codes. 40005 认证失败 is SendCloud's own (seen in public SendCloud clients); SendCloud
# documents none for this query's parameters, so the 402xx ones are ours.
AUTH_FAILED = 40005
UNAVAILABLE = 50001  # ours, for a database outage; 50000 is the documented rate limit
BAD_REQUEST = 40200  # ours: a request the tracker will not read (a control character in a parameter)
BAD_SPAN, BAD_DAYS, BAD_DATE, BAD_RANGE, BAD_START, BAD_LIMIT, BAD_STATUS, BAD_SUB_STATUS, BAD_EMAIL_IDS = range(
    40201, 40210)


class SendCloudError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


# --- the view -----------------------------------------------------------------------------

def render_error(error: ApiError) -> Response:
    """Any refusal under /apiv2/ in SendCloud's envelope (``result`` false).

    What is wrong with the parameters (400, 401) is HTTP 200, as every SendCloud answer, and
    so is the rate limit (SendCloud's own body, ``statuscode`` 50000); what concerns the HTTP
    request itself keeps its status (404, 405 with Allow, 413), and a database outage is 503
    with Retry-After, so that a client retries.
    """
    if error.status == 429:  # the rate limit: exactly the seed's TIPS 5 body, HTTP 200, no Retry-After
        return _json(RATE_LIMITED)
    code = {400: BAD_REQUEST, 401: AUTH_FAILED, 503: UNAVAILABLE}.get(error.status, error.status)
    response = _json({"result": False, "statusCode": code, "message": error.detail or error.error, "info": {}})
    response.status_code = 200 if error.status in (400, 401) else error.status
    response.headers |= error.headers
    return response


def _caller() -> Caller:
    """SendCloud's caller: an ``apiKey`` parameter, with an ``apiUser`` of any value beside it."""
    params = request.values
    api_user, api_key = (params.get("apiUser") or "").strip(), (params.get("apiKey") or "").strip()
    caller = credentials.caller_from_api_key(api_key) if api_user and api_key else None
    if caller is None:
        raise ApiError(401, "unauthorized", "认证失败")
    return caller


# A read-only key may query by POST too: the query reads whichever method carries it.
require_sendcloud_auth = guarded("sendcloud", _caller, render=render_error, read_only=lambda: None)


@blueprint.route("/apiv2/data/emailStatus", methods=["GET", "POST"])
@require_sendcloud_auth
def email_status():
    params = request.values
    account_id, api_user = g.account_id, params["apiUser"].strip()
    try:
        start = _integer(params, "start", 0, BAD_START, maximum=MAX_START)
        limit = _integer(params, "limit", DEFAULT_LIMIT, BAD_LIMIT, maximum=MAX_LIMIT)
        where = _filtered(params)
    except SendCloudError as error:
        return _json({"result": False, "statusCode": error.code, "message": error.message, "info": {}})
    # The window days=N resolved to is part of the query: a walk that crosses midnight in
    # Beijing continues neither from the earlier window's marks nor with its total.
    window = f"sendcloud {where.sent.start.isoformat()} {where.sent.end.isoformat()}"
    pager = page_marks.OffsetPager(services().page_marks, account_id, window,
                                   page_marks.query_identity(params, ("start", "limit")),
                                   repository.SENDCLOUD_ORDERING, start)
    # One kept connection in autocommit, its statements run on the driver where they can
    # (tracker.db.driver_reads): no session, no BEGIN/ROLLBACK; rows of the shown columns only.
    with services().db.driver_reading() as connection:
        carried = _carried_total(pager.carried)
        total, rows = repository.sendcloud_statuses(connection, account_id, where, CODES, pager.slice(limit),
                                                    count_cap=COUNT_CAP, counted=carried and carried[0])
    pager.remember(rows, limit, total=total, counted_at=carried[1] if carried else epoch_seconds())
    items = [_item(row, api_user) for row in rows]
    return _json({"result": True, "statusCode": 200, "message": OK_MESSAGE,
                  "info": {"total": str(total), "voListSize": len(items), "voList": items}})


def _carried_total(carried: dict) -> tuple[int, float] | None:
    """(the total an earlier page of this walk counted, when) if it handed on a usable one counted
    within page_marks.MARK_TTL, as long as SendCloud caches a query's result; else None (count)."""
    total, counted_at = carried.get("total"), carried.get("counted_at")
    if type(total) is not int or not 0 <= total <= COUNT_CAP or type(counted_at) not in (int, float):
        return None
    return (total, counted_at) if epoch_seconds() - counted_at <= page_marks.MARK_TTL else None


def _filtered(params) -> SendCloudFilter:
    """What the parameters select."""
    low, high = _window(params)
    recipients = None
    if params.get("email"):
        try:
            recipients = (normalize_address(params["email"]),)
        except ValueError:
            recipients = ()  # no address: nothing found
    email_ids = _email_ids(params["emailIds"]) if params.get("emailIds") else None
    label_id = params["labelId"].strip() if params.get("labelId") else None  # preferred (seed TIPS 7)
    label_name = params["labelName"].strip() if params.get("labelName") and label_id is None else None
    # status=1,status=4 (seed): a list, given as one ;- or ,-separated value or repeated.
    wanted = _codes(";".join(params.getlist("status")), STATUS_CODES, BAD_STATUS, "status")
    sub_wanted = _codes(";".join(params.getlist("subStatus") + params.getlist("substatus")), SUB_STATUS_CODES,
                        BAD_SUB_STATUS, "subStatus")
    return SendCloudFilter(sent=Span(low, high), recipients=recipients, email_ids=email_ids, label_id=label_id,
                           label_name=label_name, status_codes=frozenset(wanted),
                           sub_status_codes=frozenset(sub_wanted))


def _window(params) -> tuple[datetime, datetime]:
    """[low, high) in UTC from days, or from startDate and endDate (UTC+8 calendar days)."""
    days, start_date, end_date = (params.get(n, "").strip() or None for n in ("days", "startDate", "endDate"))
    if days is not None and (start_date is not None or end_date is not None):
        raise SendCloudError(BAD_SPAN, "give days, or startDate and endDate, not both")
    today = datetime.now(UTC8).date()
    if days is not None:
        count = _integer(params, "days", 0, BAD_DAYS, minimum=1, maximum=MAX_DAYS)
        first, last = today - timedelta(days=count - 1), today
    elif start_date is not None and end_date is not None:
        first, last = _date("startDate", start_date), _date("endDate", end_date)
        if last < first:
            raise SendCloudError(BAD_RANGE, "endDate is before startDate")
        if (last - first).days > MAX_DAYS:
            raise SendCloudError(BAD_RANGE, f"startDate to endDate may span at most {MAX_DAYS} days")
    else:
        raise SendCloudError(BAD_SPAN, "days, or startDate and endDate, is required")
    # The day after 9999-12-31 is no date: its end is the calendar's (moments.LATEST).
    return _utc(first), (_utc(last + timedelta(days=1)) if last < date.max else moments.LATEST)


def _date(name: str, raw: str) -> date:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw.strip()):
        raise SendCloudError(BAD_DATE, f"{name} must be yyyy-MM-dd")
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise SendCloudError(BAD_DATE, f"{name}: {raw!r} is not a date") from None


def _utc(day: date) -> datetime:
    """Midnight of ``day`` in UTC+8, in UTC; held at the calendar's edge (0001-01-01 in UTC+8
    is year 0 in UTC), as every API's time filters are (tracker.http.moments)."""
    return moments.in_utc(datetime.combine(day, time(), UTC8))


def _integer(params, name: str, default: int, error: int, *, minimum: int = 0, maximum: int) -> int:
    raw = params.get(name)
    if raw is None or raw.strip() == "":
        return default
    if not re.fullmatch(r"[0-9]+", raw.strip()) or not minimum <= (value := whole_number(raw)) <= maximum:
        raise SendCloudError(error, f"{name} must be a whole number from {minimum} to {maximum}")
    return value


def _codes(raw: str | None, allowed: tuple[str, ...], error: int, name: str) -> set[str]:
    """A `;`-separated list of codes (`,` accepted too); an unknown one is an error."""
    codes = {c.strip() for c in re.split(r"[;,]", raw or "") if c.strip()}
    unknown = sorted(codes - set(allowed))
    if unknown:
        raise SendCloudError(error, f"{name}: unknown {', '.join(unknown)}; use {', '.join(allowed)}")
    return codes


def _email_ids(raw: str) -> tuple[tuple[str, str | None], ...]:
    """emailIds: a SendCloud delivery's message_id, or another provider's message_id$recipient:
    the (message id, recipient or None) pairs any of which a delivery may be."""
    ids = [i.strip() for i in raw.split(";") if i.strip()]
    if len(ids) > MAX_EMAIL_IDS:
        raise SendCloudError(BAD_EMAIL_IDS, f"emailIds: at most {MAX_EMAIL_IDS}")
    pairs: list[tuple[str, str | None]] = []
    for email_id in ids:
        pairs.append((email_id, None))
        message_id, dollar, recipient = email_id.partition("$")
        if dollar and message_id and recipient:
            try:
                address = normalize_address(recipient)
            except ValueError:
                continue
            pairs.append((message_id, address))
    return tuple(pairs)


# --- items --------------------------------------------------------------------------------

_ACKNOWLEDGED = Status.ACKNOWLEDGED.value
_BOUNCED = Status.BOUNCED.value


def _item(row, api_user: str) -> dict:
    """An item from a row of repository.SENDCLOUD_COLUMNS."""
    (_, message_id, recipient, provider, created_at, submitted_at, status_at, status, bounce_type, bounce_subtype,
     diagnostic, failure_status, failure_bounce_type, failure_bounce_subtype, failure_diagnostic) = row
    if status == _ACKNOWLEDGED and failure_status is not None:  # an acknowledgement shows the failure it acknowledged
        status, bounce_type, bounce_subtype, diagnostic = (failure_status, failure_bounce_type,
                                                            failure_bounce_subtype, failure_diagnostic)
    # An acknowledgement with no failure known cannot be (can_acknowledge); should one
    # appear, it renders as an undetermined bounce with its own fields.
    status = _BOUNCED if status == _ACKNOWLEDGED else status
    code = status_code(status, bounce_type)
    sub = sub_status(code, provider, bounce_subtype, diagnostic)
    email_id = message_id if provider == "sendcloud" else f"{message_id}${recipient}"
    # The seed's field table names the description "subStatDesc"; its example spells it
    # "subStatusDesc" on the delivered item and "subStatDesc" on the invalid one. Every item
    # carries both, equal, so a client reading either spelling finds it on every item.
    description = SUB_STATUS_DESC[sub] if sub else None
    return {
        "emailId": email_id,
        "status": LABELS[code],
        "subStatus": sub,
        "subStatDesc": description,
        "subStatusDesc": description,
        "apiUser": api_user,
        "recipients": recipient,
        "requestTime": _local(submitted_at or created_at),
        "modifiedTime": _local(status_at or submitted_at or created_at),
        "sendLog": diagnostic or _send_log(status, sub),
    }


def _send_log(status: str, sub: str | None) -> str:
    """What happened, in SendCloud's log words, when the provider said nothing more."""
    if sub:
        return f"{LABELS[sub[0]]}-{SUB_STATUS_DESC[sub]}"
    return _LOG_WORDS.get(status, "successfully delivered")


# By the status's value as stored: items are rendered from rows, and an enum's hash is a Python call.
_LOG_WORDS = {Status.PENDING.value: "registered, not yet requested", Status.SENT.value: "successfully request",
              Status.RETRY.value: "delivery deferred, retrying",
              Status.COMPLAINT.value: "successfully delivered, reported as spam"}


def _local(moment: datetime) -> str:
    """2024-09-02 09:34:37: Beijing time, to the second. ``moment``: as stored (naive UTC), or aware."""
    try:
        local = moment + _UTC8_OFFSET if moment.tzinfo is None else moment.astimezone(UTC8).replace(tzinfo=None)
    except OverflowError:  # past the end of year 9999 in Beijing: the last second a datetime holds
        return "9999-12-31 23:59:59"
    return local.isoformat(" ", "seconds")  # positional: keywords make this call 40% dearer


def _json(body: dict) -> Response:
    """Always HTTP 200, as SendCloud answers; JSON in the seed's field order, UTF-8 unescaped."""
    return Response(json_out.dumps(body), status=200, mimetype="application/json")
