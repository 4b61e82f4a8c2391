"""Infobip's email logs and delivery reports (shared/seeds/001 and 002).

``GET /email/1/logs`` lists the account's emails of the last 48 hours, newest first;
``GET /email/1/reports`` hands out each final delivery report once (JSON, or XML with
``Accept: application/xml``). Authentication as Infobip's: ``App <API key>``,
``Basic base64(username:API key)`` (the username is ignored) or ``Bearer <API key or JWT>``;
errors come in Infobip's ``requestError.serviceException`` shape.

Where the seeds are silent (each choice is tested):
- ``sentAt`` is when the message was sent as the provider says it (SES mail.timestamp,
  Infobip's own sentAt), else when the application registered it, never after the first
  event (tracker.domain.submitted_at); never when the tracker first heard.
  ``sentSince``/``sentUntil`` filter on that same time, both inclusive and compared to the
  millisecond shown, so ``sentUntil=<a sentAt seen>`` includes that log and
  ``sentSince=<it>`` too. ``doneAt`` is when the shown status was reached (for delivered
  mail: the delivery), never before ``sentAt``.
- Logs cover the last 48 hours: an older ``sentSince`` is clamped to the window, not refused.
  Reports likewise cover deliveries changed in the last 48 hours (Infobip's reports window).
- ``text`` is the subject: the tracker never stores bodies.
- ``messageId`` is the provider's message id; SES gives one id to every recipient of a
  message, so a messageId can name several logs, one per recipient.
- A report is "final" in every status but the PENDING group. A delivery is reported again
  when its Infobip status changes (a bounce after a delivery), not for changes Infobip cannot
  show (an open after a reported delivery, an acknowledgement of a reported failure).
- 403: a read-only key may read logs but not pull reports, since pulling consumes them.
- Limits: default 50, at most 1000 (both endpoints; more is a 400). Logs are JSON only.
- A database outage answers 503 (GENERAL_ERROR, with Retry-After): the seed lists 500 for
  Infobip's own failures, but across the tracker a 5xx means "away for now, retry", and 503
  says so. Refusals found before a view runs (control characters, an unknown path or method)
  come in the same requestError shape (render_error).
"""
from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, NamedTuple
from xml.etree import ElementTree

from flask import Blueprint, Response, g, request
from werkzeug.datastructures import MIMEAccept
from tracker.http import credentials, json_out, moments
from tracker.http.auth import guarded, refuse_writes
from tracker.db import repository
from tracker.db.repository import InfobipFilter, ShownStatuses, Span
from tracker.http.compat.infobip.mapping import (
    DELIVERED_TO_HANDSET,
    FINAL,
    GENERAL_STATUSES,
    STATUS,
    UNDELIVERABLE_NOT_DELIVERED,
    ErrorCode,
    StatusCode,
    infobip_codes,
)
from tracker.domain import ACKNOWLEDGEABLE, Outcome, Status, normalize_address
from tracker.http.errors import ApiError
from tracker.db.models import Delivery, Message, utcnow
from tracker.services import services

blueprint = Blueprint("compat_infobip", __name__)
PATHS = ("/email/1/",)  # where errors come in Infobip's shape (tracker.http.errors)


WINDOW = timedelta(hours=48)
DEFAULT_LIMIT, MAX_LIMIT = 50, 1000
SCHEMES = ("app", "basic", "bearer")
# A 401 MUST carry a challenge (RFC 9110 15.5.2): clients given a username and password (Apache
# HttpClient, .NET's NetworkCredential, urllib) send them only in answer to a Basic one.
CHALLENGE = {"WWW-Authenticate": 'Basic realm="infobip", charset="UTF-8"'}


# --- errors in Infobip's shape --------------------------------------------------------------


class Refusal(Exception):
    """An Infobip-shaped error answer: ``{"requestError": {"serviceException": {messageId, text}}}``."""

    def __init__(self, status: int, message_id: str, text: str, *, parameter: str | None = None,
                 headers: dict | None = None) -> None:
        super().__init__(text)
        self.status, self.message_id, self.text, self.parameter = status, message_id, text, parameter
        self.headers = headers or {}


def _bad(parameter: str, problem: str) -> Refusal:
    return Refusal(400, "BAD_REQUEST", f"Invalid parameter {parameter}: {problem}", parameter=parameter)


@blueprint.errorhandler(Refusal)
def _refused(refusal: Refusal):
    exception: dict[str, Any] = {"messageId": refusal.message_id, "text": refusal.text}
    if refusal.parameter:
        exception["validationErrors"] = {refusal.parameter: [refusal.text]}
    response = _respond({"requestError": {"serviceException": exception}}, root="requestError",
                        xml_allowed=True, status=refusal.status)
    response.headers |= refusal.headers
    return response


# Infobip's messageId for each status a refusal raised outside the views can have (the
# input guard, routing, the database).
MESSAGE_IDS = {400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND",
               405: "METHOD_NOT_ALLOWED", 413: "REQUEST_TOO_LARGE", 429: "TOO_MANY_REQUESTS",
               503: "GENERAL_ERROR"}


def render_error(error: ApiError) -> Response:
    """Any refusal under /email/1/ in Infobip's shape; a database outage is GENERAL_ERROR with 503."""
    return _refused(Refusal(error.status, MESSAGE_IDS.get(error.status, "GENERAL_ERROR"), error.detail or error.error,
                            parameter=error.parameter, headers=error.headers))


def infobip_caller():
    """Infobip's caller: ``App <API key>``, ``Basic base64(user:API key)`` or ``Bearer <API key or JWT>``."""
    caller = credentials.caller_from_authorization(request.headers.get("Authorization", ""), schemes=SCHEMES)
    if caller is None:
        raise ApiError(401, "unauthorized", "Invalid login details", dict(CHALLENGE))
    return caller


PULLING_REFUSED = ("A read-only API key cannot pull delivery reports: pulling consumes them. Use /email/1/logs, "
                   "or a key that may write.")


def infobip_auth(*, consumes: bool):
    """App / Basic / Bearer authentication, the rate limit, and (``consumes``) no read-only keys."""
    return guarded("infobip", infobip_caller, render=render_error, too_many="Too many requests",
                   read_only=(lambda: PULLING_REFUSED) if consumes else refuse_writes)


# --- the endpoints --------------------------------------------------------------------------


@blueprint.get("/email/1/logs")
@infobip_auth(consumes=False)
def email_logs():
    args = request.args
    limit = _limit(args)
    since, until = _moment(args, "sentSince"), _moment(args, "sentUntil")
    if since and until and since > until:
        raise _bad("sentSince", "must not be after sentUntil")
    recipients = None
    if _text(args, "to"):
        try:
            recipients = (normalize_address(args["to"]),)
        except ValueError:
            raise _bad("to", "not an email address") from None
    where = InfobipFilter(sent=sent_between(since, until), recipients=recipients,
                          senders=(args["from"],) if _text(args, "from") else (),
                          shown=_general_status_is(args["generalStatus"]) if _text(args, "generalStatus") else None,
                          **_common_filters(args, ("bulkId", "campaignReferenceId", "applicationId", "entityId")))
    # One kept connection in autocommit, its statements run on the driver where they can
    # (tracker.db.driver_reads): no session, no BEGIN/ROLLBACK; rows of the shown columns only.
    with services().db.driver_reading() as connection:
        rows = logged(repository.infobip_logs(connection, g.account_id, where, limit=limit))  # newest first
        results = [_log(delivery, message, outcome, price)
                   for (delivery, message), (outcome, price) in zip(rows, _outcomes(connection, rows), strict=True)]
    return _respond({"results": results}, root="LogsResponse", xml_allowed=False)


@blueprint.get("/email/1/reports")
@infobip_auth(consumes=True)
def email_reports():
    """Each final report once: rows are claimed FOR UPDATE SKIP LOCKED and marked in one transaction."""
    args = request.args
    limit = _limit(args)
    where = InfobipFilter(**_common_filters(args, ("bulkId",)))
    if request.method == "HEAD":
        # A HEAD's body is never sent (RFC 9110 9.3.2): reports it pulled would be gone unseen (a
        # monitor's or link checker's HEAD). Answered as a pull that found nothing, after the same checks.
        return _respond({"results": []}, root="ReportsResponse", xml_allowed=True)
    return _respond({"results": pull_reports(where, limit, _report)}, root="ReportsResponse", xml_allowed=True)


def pull_reports(where: InfobipFilter, limit: int, render: Callable[[Any, Any, Outcome, dict], dict]) -> list[dict]:
    """Claim up to ``limit`` unreported final reports among the deliveries ``where`` selects (oldest
    change first), marking them reported in the same transaction; each rendered by ``render(delivery,
    message, outcome, price)`` before the commit, so that a report that cannot be rendered is not
    marked handed out."""
    changed_since = utcnow() - WINDOW
    # One transaction (no ORM session): the claim and its mark (one statement on PostgreSQL), then the
    # prices, on the driver where it can (tracker.db.driver_reads.within), and the rendering: committed last.
    with services().db.driver_writing() as connection:
        rows = logged(repository.claim_infobip_reports(connection, g.account_id, where, final=FINAL,
                                                       changed_since=changed_since, limit=limit))
        return [render(delivery, message, outcome, price)
                for (delivery, message), (outcome, price) in zip(rows, _outcomes(connection, rows), strict=True)]


def sent_between(since: datetime | None, until: datetime | None) -> tuple[Span, ...]:
    """Sent within the 48-hour window, from ``since`` and until ``until`` (both inclusive) as
    shown: to the millisecond (tracker.http.moments)."""
    spans = [Span(start=utcnow() - WINDOW)]
    if since is not None:
        spans.append(moments.shown_from(since, moments.MILLISECOND))
    if until is not None:
        spans.append(moments.shown_until(until, moments.MILLISECOND))
    return tuple(spans)


# --- parameters -------------------------------------------------------------------------------


def _common_filters(args, attributes: tuple[str, ...]) -> dict:
    """messageId and the message attributes named, each one value, as InfobipFilter fields."""
    return {"message_ids": (args["messageId"].strip(),) if _text(args, "messageId") else (),
            "attributes": tuple((name, (args[name].strip(),)) for name in attributes if _text(args, name))}


def _text(args, name: str) -> str | None:
    """A string parameter; an empty one counts as absent."""
    value = args.get(name)
    return value.strip() if value and value.strip() else None


def _limit(args) -> int:
    raw = args.get("limit")
    if raw is None or not raw.strip():
        return DEFAULT_LIMIT
    try:
        value = int(raw) if raw.isascii() else int("not ASCII digits")  # int() also reads "٣"
    except ValueError:
        raise _bad("limit", f"must be a whole number from 1 to {MAX_LIMIT}") from None
    if not 1 <= value <= MAX_LIMIT:
        raise _bad("limit", f"must be a whole number from 1 to {MAX_LIMIT}")
    return value


def _moment(args, name: str) -> datetime | None:
    raw = _text(args, name)
    if raw is None:
        return None
    try:
        return moments.parse(raw)
    except ValueError:
        raise _bad(name, f"{raw!r} is not yyyy-MM-ddTHH:mm:ss.SSSZ") from None


def _general_status_is(raw: str) -> ShownStatuses:
    wanted = raw.strip().upper()
    if wanted not in GENERAL_STATUSES:
        raise _bad("generalStatus", f"must be one of {', '.join(GENERAL_STATUSES)}")
    plain = [s.value for s, (code, _) in STATUS.items() if code.group_name == wanted]
    if wanted == UNDELIVERABLE_NOT_DELIVERED.group_name:
        plain.append(Status.BOUNCED.value)
    # An acknowledged delivery is in the group of the failure it acknowledged (stored on its row).
    failures = [status for status in plain if Status(status) in ACKNOWLEDGEABLE]
    # An acknowledgement with no failure known renders as a rejection. EXPIRED, ACCEPTED: never.
    return ShownStatuses(tuple(plain), tuple(failures), acknowledged_unknown=wanted == "REJECTED")


# --- rendering --------------------------------------------------------------------------------


class LoggedMessage(NamedTuple):
    """The message fields a log shows (repository.infobip_logs's message_* columns)."""
    attributes: dict | None
    from_address: str | None
    subject: str | None


def logged(rows) -> list[tuple]:
    """(delivery row, LoggedMessage or None) pairs of repository.infobip_logs rows: read as the
    (delivery, message) pairs the renderers take."""
    return [(row, LoggedMessage(row.message_attributes, row.message_from_address, row.message_subject)
             if row.message_row is not None else None) for row in rows]


def _outcomes(connection, rows) -> list[tuple[Outcome, dict]]:
    """Each row's shown outcome (the delivery row's state: an acknowledgement shows the failure it
    acknowledged) and Infobip's price, which deliveries Infobip reported carry in their events."""
    priced = repository.infobip_prices(connection, g.account_id,
                                       [(d.message_id, d.recipient) for d, _ in rows if d.provider == "infobip"])
    return [(repository.state_of(d).shown, _price(priced.get((d.message_id, d.recipient)) or {})) for d, _ in rows]


def _price(price: dict) -> dict:
    return {"pricePerMessage": price.get("pricePerMessage", 0), "currency": price.get("currency") or "UNKNOWN"}


def _codes(outcome: Outcome) -> tuple[dict, dict]:
    """The status object (its null fields left out) and the error object shown for ``outcome``."""
    return _code_objects(*infobip_codes(outcome))


@functools.lru_cache(maxsize=512)
def _code_objects(status: StatusCode, error: ErrorCode) -> tuple[dict, dict]:
    # Built once per pair: every row of a page shares them, and nothing writes to them.
    return (_compact({"groupId": status.group_id, "groupName": status.group_name, "id": status.id,
                      "name": status.name, "description": status.description, "action": status.action}),
            {"groupId": error.group_id, "groupName": error.group_name, "id": error.id, "name": error.name,
             "description": error.description, "permanent": error.permanent})


def sent_at(delivery: Delivery) -> datetime:
    """The send time (tracker.domain.submitted_at); rows from before it was kept: when first known."""
    return delivery.submitted_at or delivery.created_at


def done_at(delivery: Delivery, outcome: Outcome) -> datetime:
    if STATUS.get(outcome.status, (None,))[0] is DELIVERED_TO_HANDSET and delivery.delivered_at:
        return delivery.delivered_at
    return outcome.status_at or delivery.status_at or sent_at(delivery)


_done_at = done_at


def _log(delivery: Delivery, message: Message | None, outcome: Outcome, price: dict) -> dict:
    attributes = (message.attributes or {}) if message is not None else {}
    status, error = _codes(outcome)
    return _without_nulls(_LOG_OPTIONAL, {
        "applicationId": attributes.get("applicationId"),
        "entityId": attributes.get("entityId"),
        "bulkId": attributes.get("bulkId"),
        "messageId": delivery.message_id,
        "to": delivery.recipient,
        "from": message.from_address if message is not None else None,
        "text": message.subject if message is not None else None,
        "sentAt": _log_time(sent_at(delivery)),
        "doneAt": _log_time(_done_at(delivery, outcome)),
        "messageCount": 1,
        "price": price,
        "status": status,
        "error": error,
    })


def _report(delivery: Delivery, message: Message | None, outcome: Outcome, price: dict) -> dict:
    attributes = (message.attributes or {}) if message is not None else {}
    status, error = _codes(outcome)
    return _without_nulls(("bulkId",), {
        "bulkId": attributes.get("bulkId"),
        "messageId": delivery.message_id,
        "to": delivery.recipient,
        "sentAt": _report_time(sent_at(delivery)),
        "doneAt": _report_time(_done_at(delivery, outcome)),
        "messageCount": 1,
        "price": price,
        "status": status,
        "error": error,
        "channel": "EMAIL",
    })


def _compact(item: dict) -> dict:
    return {key: value for key, value in item.items() if value is not None}


# The fields of a log that may be absent (an item's other fields always have a value).
_LOG_OPTIONAL = ("applicationId", "entityId", "bulkId", "from", "text")


def _without_nulls(optional: tuple[str, ...], item: dict) -> dict:
    """``item`` without the ``optional`` fields that are None: _compact's result for an item whose
    other fields are never None, at a few lookups a row rather than a copy of the item."""
    for key in optional:
        if item[key] is None:
            del item[key]
    return item


def _log_time(moment: datetime) -> str:
    """2021-01-02T01:00:00.123Z, as the logs seed shows."""
    return moments.written(moment, "milliseconds")


def _report_time(moment: datetime) -> str:
    """2016-08-31T13:25:18.477+0000, as the reports seed shows."""
    return moments.written(moment, "milliseconds", "+0000")


# --- JSON or XML ------------------------------------------------------------------------------


def _respond(body: dict, *, root: str, xml_allowed: bool, status: int = 200) -> Response:
    """JSON in the seed's key order, or (``Accept: application/xml``) the seed's XML form."""
    wanted = _accepted().best_match(["application/json", "application/xml", "text/xml"], default="application/json")
    if xml_allowed and wanted != "application/json":
        return Response(_xml(root, body[root] if set(body) == {root} else body), status=status,
                        mimetype="application/xml")
    return Response(json_out.dumps(body), status=status, mimetype="application/json")


def _accepted() -> MIMEAccept:
    """The Accept header's media ranges without their parameters: ``application/xml; charset=UTF-8``
    asks for XML. Werkzeug matches a range only if its parameters equal the offer's, so that header
    got JSON, and a pull of reports (each handed out once) a body the client's XML parser refused."""
    return MIMEAccept([(value.partition(";")[0].strip(), quality) for value, quality in request.accept_mimetypes])


def _xml(root: str, body: dict) -> bytes:
    """``<ReportsResponse><results><result>...``, as the reports seed shows."""
    element = ElementTree.Element(root)
    _fill(element, body)
    return ElementTree.tostring(element, encoding="UTF-8", xml_declaration=True)


def _fill(element: ElementTree.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _fill(ElementTree.SubElement(element, key), item)
    elif isinstance(value, list):
        for item in value:
            _fill(ElementTree.SubElement(element, "result" if element.tag == "results" else "item"), item)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    else:
        # XML 1.0 cannot carry most control characters, not even as references, and a registered
        # bulkId may hold them: shown as U+FFFD, so that the body stays readable.
        element.text = _NOT_XML.sub("\ufffd", str(value))


_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
