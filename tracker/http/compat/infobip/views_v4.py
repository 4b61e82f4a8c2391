"""Infobip's current email logs and reports, as its official SDK calls them: /email/4/logs, /email/4/reports.

``infobip-api-python-client`` 6.x (``EmailApi.get_email_logs``, ``get_email_delivery_reports``)
reads these, not the documented /email/1/ ones (shared/seeds/001, 002, served by
tracker.http.compat.infobip.views, whose rows, mapping and report queue these share). What differs,
taken from the SDK's own models and API module:

- Logs name the addresses ``sender`` and ``destination`` (reports keep ``to`` and add
  ``sender``); attributes come as ``platform: {entityId, applicationId}`` and
  ``campaignReferenceId``. Times are ``yyyy-MM-dd'T'HH:mm:ss.SSSZ`` (``+0000``).
- Log parameters: sender, destination, bulkId, messageId and campaignReferenceId (each
  repeatable or comma-separated: any of them), generalStatus, sentSince, sentUntil (the
  SDK sends microseconds: read to the millisecond shown), limit, entityId, applicationId,
  useCursor, cursor. With ``useCursor=true`` the answer carries ``cursor: {limit,
  nextCursor}``; passing nextCursor back as ``cursor`` gives the next (older) page, every
  log exactly once; nextCursor is absent on the last page.
- Reports: bulkId, messageId, limit, entityId, applicationId, campaignReferenceId. Each
  final report is handed out once per account, whichever version pulls it.
- Errors are Infobip's current body, which the SDK parses into its ``ApiError``:
  ``{errorCode, description, action, violations: [{property, violation}], resources}``
  (E400, E401, E403, E404, E405, E413, E429, E500; 503 for a database outage, with Retry-After).

Where the SDK is silent: sentSince and sentUntil are inclusive, as on /email/1/logs (a
sentSince after sentUntil finds nothing, as does a destination that is no address); an
unknown cursor is a 400 naming the parameter; logs are JSON only.
"""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response, g, request
from marshmallow import ValidationError

from tracker.http.compat.infobip import views as v1
from tracker.http import credentials, json_out, moments
from tracker.http.auth import guarded, refuse_writes
from tracker.http.api.schemas import Cursor
from tracker.domain import normalize_address
from tracker.http.errors import ApiError
from tracker.db import repository
from tracker.db.models import Delivery, Message
from tracker.db.repository import InfobipFilter, ShownStatuses
from tracker.services import services

blueprint = Blueprint("compat_infobip_v4", __name__)
PATHS = ("/email/4/",)  # where errors come in Infobip's current shape (tracker.http.errors)

RESOURCES = [{"name": "Response status and error codes",
              "url": "https://www.infobip.com/docs/essentials/api-essentials/response-status-and-error-codes"}]
# (status) -> (errorCode, description, action): Infobip's wording of each refusal.
ERRORS = {
    400: ("E400", "Request cannot be processed.", "Check the syntax, violations and adjust the request."),
    401: ("E401", "Invalid login details.", "Send App <API key>, Basic base64(username:API key) or Bearer "
          "<API key or JWT>."),
    403: ("E403", "Forbidden.", "A read-only API key cannot pull delivery reports: pulling consumes them. Use "
          "the logs, or a key that may write."),
    404: ("E404", "Resource not found.", "Check the path."),
    405: ("E405", "Method not allowed.", "Use one of the methods in the Allow header."),
    413: ("E413", "Request too large.", "Send a smaller request."),
    429: ("E429", "Too many requests.", "Wait for the time in Retry-After, then retry."),
    503: ("E500", "Service temporarily unavailable.", "Retry after the time in Retry-After."),
}


def render_error(error: ApiError) -> Response:
    """Any refusal under /email/4/ in Infobip's current error body."""
    code, description, action = ERRORS.get(error.status, ("E500", "Something went wrong.", "Retry later."))
    violations = [{"property": error.parameter, "violation": error.detail}] if error.parameter else []
    if not violations and error.detail and error.status == 400:
        violations = [{"property": "request", "violation": error.detail}]
    body = {"errorCode": code, "description": description, "action": action, "violations": violations,
            "resources": RESOURCES}
    response = Response(json_out.dumps(body), status=error.status, mimetype="application/json")
    response.headers |= error.headers
    return response


def _bad(parameter: str, problem: str) -> ApiError:
    return ApiError(400, "bad_request", f"{parameter}: {problem}", parameter=parameter, source="query")


def _caller():
    """As on /email/1/, refused in this version's words."""
    caller = credentials.caller_from_authorization(request.headers.get("Authorization", ""), schemes=v1.SCHEMES)
    if caller is None:
        raise ApiError(401, "unauthorized", "invalid login details", dict(v1.CHALLENGE))
    return caller


def infobip_auth(*, consumes: bool):
    """App / Basic / Bearer, the rate limit and (``consumes``) no read-only keys, as on /email/1/."""
    return guarded("infobip", _caller, render=render_error,
                   read_only=(lambda: "a read-only API key cannot pull delivery reports") if consumes
                   else refuse_writes)


# --- the endpoints --------------------------------------------------------------------------


@blueprint.get("/email/4/logs")
@infobip_auth(consumes=False)
def email_logs():
    args = request.args
    limit = _limit(args)
    since, until = _moment(args, "sentSince"), _moment(args, "sentUntil")
    destinations = _values(args, "destination")
    # A destination that is no address finds nothing, as a search for it would; since after
    # until: nothing between.
    where = InfobipFilter(sent=v1.sent_between(since, until),
                          recipients=tuple(a for a in map(_address, destinations) if a) if destinations else None,
                          senders=tuple(_values(args, "sender")),
                          shown=_general_status(args["generalStatus"]) if _values(args, "generalStatus") else None,
                          **_attribute_filters(args, ("bulkId", "campaignReferenceId", "applicationId", "entityId")))
    use_cursor = _boolean(args, "useCursor")
    raw_cursor = (args.get("cursor") or "").strip()
    before = _cursor(raw_cursor) if raw_cursor else None
    # One kept connection in autocommit, its statements run on the driver where they can
    # (tracker.db.driver_reads): no session, no BEGIN/ROLLBACK; rows of the shown columns only.
    with services().db.driver_reading() as connection:
        # Newest first; one more row says whether there is more.
        rows = repository.infobip_logs(connection, g.account_id, where, before=before, limit=limit + 1)
        page = v1.logged(rows[:limit])
        results = [_log(delivery, message, outcome, price)
                   for (delivery, message), (outcome, price) in zip(page, v1._outcomes(connection, page), strict=True)]
    body: dict = {"results": results}
    if use_cursor or raw_cursor:
        body["cursor"] = {"limit": limit}
        if len(rows) > limit:
            last = page[-1][0]
            # The row's time is as stored, naive UTC; a cursor carries its zone.
            body["cursor"]["nextCursor"] = _encode_cursor(moments.in_utc(v1.sent_at(last)), last.id)
    return _json(body)


@blueprint.get("/email/4/reports")
@infobip_auth(consumes=True)
def email_reports():
    """Each final report once per account: the same queue as /email/1/reports."""
    args = request.args
    limit = _limit(args)
    where = InfobipFilter(**_attribute_filters(args, ("bulkId", "campaignReferenceId", "applicationId", "entityId")))
    if request.method == "HEAD":  # pulls nothing: its body would never be sent (as on /email/1/reports)
        return _json({"results": []})
    return _json({"results": v1.pull_reports(where, limit, _report)})


# --- parameters -------------------------------------------------------------------------------


def _values(args, name: str) -> list[str]:
    """Every value of a parameter, repeated (the SDK's "multi") or comma-separated; blanks dropped."""
    return [part.strip() for value in args.getlist(name) for part in value.split(",") if part.strip()]


def _attribute_filters(args, attributes: tuple[str, ...]) -> dict:
    """messageId and the message attributes named, each any of its values, as InfobipFilter fields."""
    return {"message_ids": tuple(_values(args, "messageId")),
            "attributes": tuple((name, tuple(_values(args, name))) for name in attributes if _values(args, name))}


def _limit(args) -> int:
    try:
        return v1._limit(args)
    except v1.Refusal:
        raise _bad("limit", f"must be a whole number from 1 to {v1.MAX_LIMIT}") from None


def _moment(args, name: str) -> datetime | None:
    try:
        return v1._moment(args, name)
    except v1.Refusal:
        raise _bad(name, "not yyyy-MM-dd'T'HH:mm:ss.SSSZ") from None


def _general_status(raw: str) -> ShownStatuses:
    try:
        return v1._general_status_is(raw)
    except v1.Refusal:
        raise _bad("generalStatus", f"must be one of {', '.join(v1.GENERAL_STATUSES)}") from None


def _boolean(args, name: str) -> bool:
    raw = (args.get(name) or "").strip().lower()
    if raw not in ("", "true", "false"):
        raise _bad(name, "must be true or false")
    return raw == "true"


def _address(raw: str) -> str | None:
    try:
        return normalize_address(raw)
    except ValueError:
        return None


# The same opaque keyset position as the native API's cursor: (time, id) of the last item.
_CURSOR = Cursor()


def _encode_cursor(moment: datetime, delivery_id: int) -> str:
    return _CURSOR._serialize((moment, delivery_id), None, None)


def _cursor(raw: str) -> tuple[datetime, int]:
    try:
        return _CURSOR._deserialize(raw, None, None)
    except ValidationError:
        raise _bad("cursor", "not a nextCursor this API returned") from None


# --- rendering --------------------------------------------------------------------------------


def _time(moment: datetime) -> str:
    """2024-01-01T12:00:00.123+0000: yyyy-MM-dd'T'HH:mm:ss.SSSZ, as the SDK documents."""
    return v1._report_time(moment)


def _platform(attributes: dict) -> dict | None:
    platform = {name: attributes[name] for name in ("entityId", "applicationId")
                if isinstance(attributes.get(name), str)}
    return platform or None


def _log(delivery: Delivery, message: Message | None, outcome, price: dict) -> dict:
    attributes = (message.attributes or {}) if message is not None else {}
    status, error = v1._codes(outcome)
    return v1._compact({
        "text": message.subject if message is not None else None,
        "sender": message.from_address if message is not None else None,
        "destination": delivery.recipient,
        "bulkId": attributes.get("bulkId"),
        "messageId": delivery.message_id,
        "sentAt": _time(v1.sent_at(delivery)),
        "doneAt": _time(v1.done_at(delivery, outcome)),
        "messageCount": 1,
        "price": price,
        "status": status,
        "error": error,
        "platform": _platform(attributes),
        "campaignReferenceId": attributes.get("campaignReferenceId"),
    })


def _report(delivery: Delivery, message: Message | None, outcome, price: dict) -> dict:
    attributes = (message.attributes or {}) if message is not None else {}
    status, error = v1._codes(outcome)
    return v1._compact({
        "bulkId": attributes.get("bulkId"),
        "price": price,
        "status": status,
        "error": error,
        "messageId": delivery.message_id,
        "to": delivery.recipient,
        "sender": message.from_address if message is not None else None,
        "sentAt": _time(v1.sent_at(delivery)),
        "doneAt": _time(v1.done_at(delivery, outcome)),
        "messageCount": 1,
        "platform": _platform(attributes),
        "campaignReferenceId": attributes.get("campaignReferenceId"),
    })


def _json(body: dict) -> Response:
    return Response(json_out.dumps(body), status=200, mimetype="application/json")
