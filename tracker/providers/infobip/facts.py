"""What an Infobip report or tracking event says beyond its type: bounce, diagnostic, details.

One facts function per Infobip status group or tracking type; the mapping tables in
tracker.providers.infobip.parse name which one each uses. Also the lenient readers of Infobip's
values: XML reports carry every value as text ("3", "false"), and the SDK types some ids as
numbers, so ids, flags and prices are read from either form. Pure.
"""
from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, UTC
from typing import Any
from collections.abc import Mapping

from tracker.domain import BounceType
from tracker.providers.common import values
from tracker.providers.common.values import Facts

JSONObject = Mapping[str, Any]

_INTEGER = re.compile(r"[+-]?\d+")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SUBTYPE_LIMIT = 64  # the width of the bounce_subtype column: a longer name would make the row unstorable


# --- delivery reports (provider-formats §3.1) ---------------------------------------------


def no_facts(source: JSONObject) -> Facts:
    """PENDING and DELIVERED reports: the status is the whole story (ids are in the details)."""
    return Facts()


def undeliverable_facts(report: JSONObject) -> Facts:
    """UNDELIVERABLE: a bounce, hard or soft as Infobip's error.permanent says.

    A report without a usable error (or without the flag) is an UNDETERMINED bounce: we
    would rather say "we don't know" than guess soft.
    """
    error = real_error(report.get("error"))
    permanent = as_bool(error.get("permanent")) if error else None
    bounce_type = {
        True: BounceType.PERMANENT,
        False: BounceType.TRANSIENT,
        None: BounceType.UNDETERMINED,
    }[permanent]
    return Facts(
        bounce_type=bounce_type,
        bounce_subtype=failure_name(report, error),
        diagnostic=failure_text(report, error),
    )


def expired_facts(report: JSONObject) -> Facts:
    """EXPIRED: Infobip stopped trying before any server accepted or refused the message.

    Counted as a TRANSIENT bounce: the message never arrived, so it is a failure, but
    nothing said the address is bad, so a later send to it may well succeed.
    """
    error = real_error(report.get("error"))
    return Facts(
        bounce_type=BounceType.TRANSIENT,
        bounce_subtype=failure_name(report, error),
        diagnostic=failure_text(report, error),
    )


def rejected_facts(report: JSONObject) -> Facts:
    """REJECTED: Infobip refused to send (blacklisted, no credits, invalid address, ...).

    The subtype is Infobip's error name (else the status's), as for a bounce: it is what the
    read APIs derive their codes from (Infobip's error id and permanent flag, SendCloud's
    subStatus), so without it a blacklisted address would show as a generic, retryable drop.
    """
    error = real_error(report.get("error"))
    return Facts(bounce_subtype=failure_name(report, error), diagnostic=failure_text(report, error))


def report_details(report: JSONObject) -> dict[str, Any]:
    """The few fields of a report worth keeping in the history: ids, price, status and error."""
    status = report.get("status")
    status = status if isinstance(status, Mapping) else {}
    error = real_error(report.get("error"))
    return compact(
        bulkId=as_text(report.get("bulkId")),
        callbackData=as_text(report.get("callbackData")),
        campaignReferenceId=as_text(report.get("campaignReferenceId")),
        applicationId=as_text(report.get("applicationId")),
        entityId=as_text(report.get("entityId")),
        price=_price(report.get("price")),
        status=compact(
            groupId=as_code(status.get("groupId")),
            groupName=as_text(status.get("groupName")),
            id=as_code(status.get("id")),
            name=as_text(status.get("name")),
        ),
        # The "no error" object (groupId 0, NO_ERROR) that comes with every success is noise.
        error=compact(
            groupId=as_code(error.get("groupId")),
            groupName=as_text(error.get("groupName")),
            id=as_code(error.get("id")),
            name=as_text(error.get("name")),
            permanent=as_bool(error.get("permanent")),
        )
        if error
        else None,
    )


def error_code(report: JSONObject) -> tuple[int | None, int | None]:
    """The report's error (groupId, id): the family (email: 1 Dropped, 2 Bounced, 3 System error)
    and the code; (None, None) without an error."""
    error = real_error(report.get("error"))
    return (as_int(error.get("groupId")), as_int(error.get("id"))) if error else (None, None)


def real_error(value: Any) -> JSONObject | None:
    """The report's error object, or None when there is none or it is the OK one (group 0)."""
    if not isinstance(value, Mapping) or not value:
        return None
    group = as_int(value.get("groupId"))
    if group == 0:
        return None
    if group is None and as_int(value.get("id")) in (0, None) and as_text(value.get("name")) in (
        None,
        "NO_ERROR",
    ):
        return None
    return value


def failure_name(report: JSONObject, error: JSONObject | None) -> str | None:
    """The most specific name of what went wrong: the error's (EC_HARD_BOUNCE), else status's; cut to
    what a subtype holds (Infobip's names are a few dozen characters; the cut only keeps a stray one storable)."""
    if error and as_text(error.get("name")):
        return _subtype(as_text(error.get("name")))
    status = report.get("status")
    return _subtype(as_text(status.get("name"))) if isinstance(status, Mapping) else None


def _subtype(name: str | None) -> str | None:
    return name[:_SUBTYPE_LIMIT] if name else name


def failure_text(report: JSONObject, error: JSONObject | None) -> str | None:
    """The human-readable reason: the error's description, else the status's."""
    if error and as_text(error.get("description")):
        return as_text(error.get("description"))
    status = report.get("status")
    return as_text(status.get("description")) if isinstance(status, Mapping) else None


def _price(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, Mapping):
        return None
    return compact(
        pricePerMessage=as_number(value.get("pricePerMessage")),
        currency=as_text(value.get("currency")),
    )


# --- tracking events (provider-formats §3.2) ----------------------------------------------


def opened_facts(payload: JSONObject) -> Facts:
    return Facts(details=_audience(payload))


def clicked_facts(payload: JSONObject) -> Facts:
    return Facts(details=compact(url=as_text(payload.get("url")), **_audience(payload)))


def complained_facts(payload: JSONObject) -> Facts:
    return Facts(details=compact(sender=as_text(payload.get("sender"))))


def late_bounce_facts(payload: JSONObject) -> Facts:
    """LATE_BOUNCE: the receiving server accepted the message, then bounced it.

    PERMANENT unless the payload carries an error object (the delivery-report shape) whose
    ``permanent`` is false: Infobip's documented payload has no bounce detail at all, and a
    bounce that comes after acceptance is almost always a hard one [A].
    """
    error = real_error(payload.get("error"))
    permanent = as_bool(error.get("permanent")) if error else None
    return Facts(
        bounce_type=BounceType.TRANSIENT if permanent is False else BounceType.PERMANENT,
        bounce_subtype=_subtype(as_text(error.get("name"))) if error else None,
        diagnostic=as_text(error.get("description")) if error else None,
        details=compact(sender=as_text(payload.get("sender"))),
    )


def unsubscribed_facts(payload: JSONObject) -> Facts:
    return Facts(details=_audience(payload))


def tracking_details(payload: JSONObject) -> dict[str, Any]:
    """The identifying fields every tracking event keeps, and when the message was sent."""
    return compact(
        bulkId=as_text(payload.get("bulkId")),
        callbackData=as_text(payload.get("callbackData")),
        campaignReferenceId=as_text(payload.get("campaignReferenceId")),
        applicationId=as_text(payload.get("applicationId")),
        entityId=as_text(payload.get("entityId")),
        domain=as_text(payload.get("domain")),
        **_sent_at(payload.get("sendDateTime")),
    )


def _sent_at(value: Any) -> dict[str, Any]:
    """sendDateTime (epoch milliseconds: when the email was sent) as ISO 8601 UTC.

    A value that is no timestamp is kept as it came rather than failing the event over a
    detail.
    """
    if value is None or value == "":
        return {}
    millis = as_number(value)
    if millis is not None:
        try:
            # From the milliseconds themselves: dividing into float seconds can land a
            # microsecond short and print the previous millisecond.
            moment = _EPOCH + timedelta(milliseconds=millis)
        except (OverflowError, ValueError):
            pass
        else:
            return {"sentAt": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")}
    return {"sendDateTime": value if isinstance(value, (str, int, float)) else str(value)}


def _audience(payload: JSONObject) -> dict[str, Any]:
    """Who opened or clicked: device and place, as Infobip reports them (empty parts dropped).

    The place is kept as geoLocation, the SDK model's name [C]; pushes recorded from a live
    integration name it geoLocationInfo [C], so that is read when geoLocation is absent.
    """
    place = payload.get("geoLocation")
    if not isinstance(place, Mapping):
        place = payload.get("geoLocationInfo")
    return compact(
        recipientInfo=_strings(payload.get("recipientInfo"), ("deviceType", "os", "deviceName")),
        geoLocation=_strings(place, ("countryName", "city")),
    )


def _strings(value: Any, names: tuple[str, ...]) -> dict[str, str] | None:
    if not isinstance(value, Mapping):
        return None
    return compact(**{name: as_text(value.get(name)) for name in names})


# --- lenient value readers ----------------------------------------------------------------


def as_int(value: Any) -> int | None:
    """An integer from a JSON number or a numeric string ("3" in XML); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        return int(value.strip())
    return None


def as_code(value: Any) -> int | str | None:
    """An id as an integer when it is one, else the text as given (kept for the operator)."""
    number = as_int(value)
    return number if number is not None else as_text(value)


def as_number(value: Any) -> int | float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        text = value.strip()
        if _INTEGER.fullmatch(text):
            return int(text)
        number = float(text)
        return number if math.isfinite(number) else None
    return None


def as_bool(value: Any) -> bool | None:
    """true/false from JSON booleans or XML text; None for anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def as_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def compact(**facts: Any) -> dict[str, Any]:
    """values.compact, also leaving out empty groups ({}): report details nest them."""
    return {name: value for name, value in values.compact(**facts).items() if value != {}}
