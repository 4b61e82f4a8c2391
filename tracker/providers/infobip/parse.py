"""Infobip email delivery reports and tracking events -> normalized events.

Pure: standard library, defusedxml and the domain only, no I/O. See provider-formats.md §3:
§3.1 delivery reports, §3.2 tracking events. Two families arrive on an Infobip hook:

- delivery reports, pushed to the send request's ``notifyUrl``: ``{"results": [report, ...]}``,
  several reports per POST, in JSON, or in XML when the send asked for
  ``notifyContentType=application/xml``;
- tracking events, pushed to ``trackingUrl``: one JSON object per POST with a
  ``notificationType`` (OPENED, CLICKED, COMPLAINED, LATE_BOUNCE, UNSUBSCRIBED).

The body decides the family and the encoding, not the Content-Type (§7: never trust it);
the Content-Type only breaks the tie for a body that starts like neither.

XML is read with defusedxml and no DTD at all: the body is untrusted, so no entity is ever
expanded. Infobip does not document the XML shape of a pushed report [U]; its pull API's
XML answer [D] is ``<ReportsResponse><results><result>`` with the JSON field names as
element names, so we accept those names, and as a report every element under a
``<results>`` (the root, or a child of any root: ``<reportResponse>``, ``<ReportsResponse>``)
whatever its name: the JSON has none for list items, and serializers differ (``<result>``,
Jackson's default ``<results><results>``). Without a ``<results>`` level, ``<result>`` (or
``<message>``) elements directly under the root are the reports. Values arrive as text
there ("3", "false") and are read as such.

Event keys are semantic: ``infobip:dlr:{messageId}:{status.id}`` (Infobip resending a
final report is the same event) and ``infobip:{notificationType}:{eventId}``. A report's
time is its doneAt, else sentAt; a tracking event carries no time of its own, so it takes
``received_at``. An unreadable report is set aside, named ``results[i]`` with its reason, and
the POST's other reports stand (tracker.providers.common.batch); a body that is neither family
fails whole.
"""
from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from types import MappingProxyType
from typing import Any
from collections.abc import Callable, Mapping
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as DefusedElementTree
from defusedxml import DefusedXmlException

from tracker.providers.common import bounded_json
from tracker.providers.common.batch import Batch, read_each
from tracker.domain import EventType, NormalizedEvent
from tracker.providers.common.errors import PayloadError, UnreadablePayload
from tracker.providers.infobip.facts import (
    as_int,
    as_text,
    clicked_facts,
    complained_facts,
    error_code,
    expired_facts,
    late_bounce_facts,
    no_facts,
    opened_facts,
    rejected_facts,
    report_details,
    tracking_details,
    undeliverable_facts,
    unsubscribed_facts,
)
from tracker.providers.common.values import (
    Facts,
    checked_address,
    digest,
    excerpt,
    key_list,
    normalized_event,
    not_json,
    optional_time,
    unmapped_event,
)

PROVIDER = "infobip"

_JSONObject = Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class _Rule:
    """How one Infobip status group or tracking type becomes a normalized event."""

    type: EventType
    facts: Callable[[_JSONObject], Facts]  # (report or tracking payload) -> facts


# --- the mapping tables: one row per Infobip code -----------------------------------------

# Delivery reports, keyed on status.groupId (§3.1). Only the group decides the type, never
# the names (they vary by channel and over time) and never status.id, whose list is open.
_REPORT_RULES: dict[int, tuple[str, _Rule]] = {
    # 1 PENDING (ids 3 PENDING_WAITING_DELIVERY, 7 PENDING_ENROUTE, 26 PENDING_ACCEPTED):
    # Infobip took the message and is still trying; pushed only with intermediateReport=true.
    1: ("PENDING", _Rule(EventType.SENT, no_facts)),
    # 2 UNDELIVERABLE (4 ..._REJECTED_OPERATOR, 9 ..._NOT_DELIVERED): the receiving side
    # refused it. A bounce: PERMANENT if error.permanent, TRANSIENT if not, UNDETERMINED when
    # the report has no error flag; subtype = error.name, diagnostic = error.description.
    # Unless its error says Infobip itself never handed it over (_NOT_BOUNCED below).
    2: ("UNDELIVERABLE", _Rule(EventType.BOUNCED, undeliverable_facts)),
    # 3 DELIVERED: 5 DELIVERED_TO_HANDSET (the recipient's server accepted it) is final;
    # 2 DELIVERED_TO_OPERATOR is Infobip's intermediate step, but the message did leave,
    # so it is DELIVERED too (a later UNDELIVERABLE still outranks it).
    3: ("DELIVERED", _Rule(EventType.DELIVERED, no_facts)),
    # 4 EXPIRED (15 EXPIRED_EXPIRED, 29 EXPIRED_DLR_UNKNOWN): Infobip gave up trying. The
    # message never arrived but no server called the address bad: a TRANSIENT bounce.
    4: ("EXPIRED", _Rule(EventType.BOUNCED, expired_facts)),
    # 5 REJECTED (6..25, 51, 52: no credits, blacklisted, invalid destination, ...): Infobip
    # refused to send; ERROR, subtype = error.name, diagnostic = error.description (each
    # else the status's).
    5: ("REJECTED", _Rule(EventType.REJECTED, rejected_facts)),
}
# Any other group (the SDK's general status enum also has ACCEPTED, undocumented for email)
# gives an UNMAPPED event: recorded in the history, no status change.

# An UNDELIVERABLE report is a bounce when its error is of family 2, Bounced (a non-delivery
# report came back), or a family 1 drop (Infobip did not hand the message over) because of the
# recipient's address itself: blacklisted, unsubscribed, bounced before, suppressed for a bounce
# or a complaint (6001, 6003, 6004, 6034, 6035 in §3.1's list). Any other drop (the sender's
# address or domain, the sending IP, the content or template, a generic one) and family 3, System
# error (Infobip's own failure), say nothing against the recipient's address: an error, as
# REJECTED is, that neither suppresses the address nor counts as a bounce. §3.1: key on the
# error's groupId + permanent, and not on names (recorded pushes name error 6012
# EC_SENDER_ADDRESS_INVALID, in family 1, where public code lists EC_HARD_BOUNCE).
_NOT_BOUNCED = _Rule(EventType.REJECTED, rejected_facts)
_ADDRESS_DROPS = frozenset({6001, 6003, 6004, 6034, 6035})


def _not_bounced(report: _JSONObject) -> bool:
    """Whether an UNDELIVERABLE report's error says nothing against the recipient's address."""
    family, code = error_code(report)
    return family == 3 or (family == 1 and code not in _ADDRESS_DROPS)

# Tracking events, keyed on notificationType (§3.2).
_TRACKING_RULES: dict[str, _Rule] = {
    # OPENED: the tracking pixel was fetched; device and place kept.
    "OPENED": _Rule(EventType.OPENED, opened_facts),
    # CLICKED: a tracked link was followed; the url kept.
    "CLICKED": _Rule(EventType.CLICKED, clicked_facts),
    # COMPLAINED: the recipient reported the message as spam.
    "COMPLAINED": _Rule(EventType.COMPLAINED, complained_facts),
    # LATE_BOUNCE: accepted (DELIVERED), then bounced; BOUNCED outranks DELIVERED, so it wins
    # whatever the order of arrival. PERMANENT unless the payload says otherwise.
    "LATE_BOUNCE": _Rule(EventType.BOUNCED, late_bounce_facts),
    # UNSUBSCRIBED: kept (and feeds the suppression list); changes no status.
    "UNSUBSCRIBED": _Rule(EventType.UNSUBSCRIBED, unsubscribed_facts),
}

# The tables as documentation and for tests. Infobip's names are unique across both
# families, so one map serves: status group name or notificationType -> event type.
TYPE_MAP: Mapping[str, EventType] = MappingProxyType(
    {name: rule.type for name, rule in _REPORT_RULES.values()}
    | {name: rule.type for name, rule in _TRACKING_RULES.items()}
)
# status.groupId -> the group name TYPE_MAP is keyed on.
STATUS_GROUPS: Mapping[int, str] = MappingProxyType(
    {group_id: name for group_id, (name, _) in _REPORT_RULES.items()}
)


def parse(body: bytes, content_type: str, *, received_at: datetime) -> list[NormalizedEvent]:
    """The normalized events in one Infobip POST, all or nothing: PayloadError for the first
    report ``read`` sets aside, else as ``read``."""
    return read(body, content_type, received_at=received_at).strict()


def read(body: bytes, content_type: str, *, received_at: datetime) -> Batch:
    """The normalized events in one Infobip POST: one per readable delivery report (the reports it
    cannot read set aside with their index and reason), or the tracking event.

    ``received_at`` (aware) is the event time when the payload has none. Raises PayloadError,
    naming the field and value, for a body that can never be processed (not JSON or XML, neither
    family, ``results`` not a list, a tracking event it cannot read). An unknown status group or
    notificationType is no error: it gives an UNMAPPED event.
    """
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    document = _decode(body, content_type)
    if "results" in document:
        return _reports(document["results"], received_at)
    if "notificationType" in document:
        return Batch.single([_tracking_event(document, received_at)])
    raise PayloadError(
        "not an Infobip delivery report (no results) or tracking event (no notificationType); "
        f"top-level keys: {key_list(document)}"
    )


# --- delivery reports ---------------------------------------------------------------------


def _reports(results: Any, received_at: datetime) -> Batch:
    if not isinstance(results, list):
        raise PayloadError(f"results must be a list of delivery reports, got {_kind(results)}")
    return read_each(results, lambda index, report: [_report(index, report, received_at)])


def _report(index: int, report: Any, received_at: datetime) -> NormalizedEvent:
    where = f"results[{index}]"
    if not isinstance(report, Mapping):
        raise PayloadError(f"{where} must be a delivery report object, got {_kind(report)}")
    return _report_event(report, where, received_at)


def _report_event(report: _JSONObject, where: str, received_at: datetime) -> NormalizedEvent:
    status = report.get("status")
    if not isinstance(status, Mapping):
        raise PayloadError(
            f"{where} (messageId {report.get('messageId')!r}) has no status object, "
            f"got {_kind(status)}"
        )
    raw_group = status.get("groupId")
    group_id = as_int(raw_group)
    group_name = as_text(status.get("groupName"))
    if group_id is None and group_name is None:
        problem = "is missing" if raw_group is None else f"must be an integer, got {raw_group!r}"
        raise PayloadError(f"{where}.status.groupId {problem} and there is no groupName")
    entry = _REPORT_RULES.get(group_id) if group_id is not None else None
    rule = entry[1] if entry else None
    if group_id == 2 and _not_bounced(report):
        rule = _NOT_BOUNCED

    message_id = _identifier(
        report.get("messageId"), f"{where}.messageId", required=rule is not None
    )
    # A repeated report of the same status is the same event, whatever its doneAt or price.
    status_id = as_int(status.get("id"))
    group = group_id if group_id is not None else group_name
    tail = str(status_id) if status_id is not None else f"group-{group}"
    return _event(
        rule,
        report,
        provider_event=group_name or f"status.groupId {raw_group!r}",
        details=report_details(report),
        message_id=message_id,
        recipient=_recipient(report.get("to"), f"{where}.to"),
        occurred_at=_report_time(report, where, received_at),
        event_key=f"{PROVIDER}:dlr:{message_id}:{tail}",
        sent_at=optional_time(report.get("sentAt"), f"{where}.sentAt"),  # Infobip's own send time
    )


def _report_time(report: _JSONObject, where: str, received_at: datetime) -> datetime:
    """doneAt (when Infobip finished: delivered, bounced, ...), else sentAt, else arrival."""
    for field in ("doneAt", "sentAt"):
        moment = optional_time(report.get(field), f"{where}.{field}")
        if moment is not None:
            return moment
    return received_at


# --- tracking events ----------------------------------------------------------------------


def _tracking_event(payload: _JSONObject, received_at: datetime) -> NormalizedEvent:
    raw_type = payload.get("notificationType")
    if not isinstance(raw_type, str) or not raw_type.strip():
        raise PayloadError(f"notificationType must be a non-empty string, got {raw_type!r}")
    name = raw_type.strip().upper()
    rule = _TRACKING_RULES.get(name)
    message_id = _identifier(payload.get("messageId"), "messageId", required=rule is not None)
    # eventId is Infobip's dedupe id; without it, a digest of the payload is still the same
    # on every redelivery of the same event.
    event_id = _identifier(payload.get("eventId"), "eventId", required=False) or digest(payload)
    # The payload has no time of the event: sendDateTime is when the email was sent
    # ("the time at which the email was sent", SDK field description [C]) and is kept as
    # details.sentAt. The arrival time is the closer truth for an open or a click.
    return _event(
        rule,
        payload,
        provider_event=raw_type,
        details=tracking_details(payload),
        message_id=message_id,
        recipient=_recipient(payload.get("recipient"), "recipient"),
        occurred_at=received_at,
        event_key=f"{PROVIDER}:{name}:{event_id}",
    )


# --- shared pieces ------------------------------------------------------------------------


def _event(
    rule: _Rule | None, source: _JSONObject, *, provider_event: str, details: dict[str, Any],
    **identity: Any,
) -> NormalizedEvent:
    """The event ``rule`` makes of a report or payload; identity is message_id, recipient,
    occurred_at and event_key.

    Without a rule (a type we have no row for) the event is UNMAPPED: stored and shown with
    the provider's name for it, never dropped, changing no status.
    """
    if rule is None:
        return unmapped_event(PROVIDER, provider_event, details, **identity)
    facts = rule.facts(source)
    facts = dataclasses.replace(facts, details={**details, **facts.details})
    return normalized_event(PROVIDER, rule.type, facts, **identity)


def _identifier(value: Any, where: str, *, required: bool) -> str:
    """An id as text: the SDK types some ids as numbers, so 1234 and "1234" are the same id.

    Returns "" for a missing id that is not required (an unknown type is kept even then).
    """
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = as_int(value)
        if number is not None:
            return str(number)
    if value is None or value == "":
        if required:
            raise PayloadError(f"{where} is missing; the event cannot be matched to a message")
        return ""
    raise PayloadError(f"{where} must be a string or an integer, got {_kind(value)}: {value!r}")


def _recipient(value: Any, where: str) -> str | None:
    """The normalized address, or None when Infobip names none (a message-level event)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{where} must be an email address, got {_kind(value)}: {value!r}")
    return checked_address(value, where)


# --- decoding: JSON or XML ----------------------------------------------------------------

_BOM = b"\xef\xbb\xbf"
_ITEM_TAGS = frozenset({"result", "message"})
_MAX_DEPTH = 4  # report > status > groupId is 2; deeper structure is not Infobip's


def _decode(body: bytes, content_type: str) -> _JSONObject:
    """The body as a JSON-like object: JSON as is, XML converted to the JSON shape."""
    if not isinstance(body, (bytes, bytearray)):
        raise TypeError(f"body must be bytes, got {type(body).__name__}")
    text = bytes(body[len(_BOM):] if body.startswith(_BOM) else body).lstrip()
    if not text:
        raise PayloadError("the body is empty")
    looks_xml = text[:1] == b"<" or (text[:1] not in b"{[" and "xml" in (content_type or ""))
    return _decode_xml(text) if looks_xml else _decode_json(text)


def _decode_json(text: bytes) -> _JSONObject:
    try:
        document = bounded_json.loads(text.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise UnreadablePayload(f"the JSON body is not UTF-8 text ({exc})") from None
    except json.JSONDecodeError as exc:
        raise UnreadablePayload(not_json("the body", exc, text)) from None
    if not isinstance(document, dict):
        raise PayloadError(
            f"the body must be a JSON object, got {_kind(document)}: {excerpt(text)}"
        )
    return document


def _decode_xml(text: bytes) -> _JSONObject:
    try:
        root = DefusedElementTree.fromstring(text, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise PayloadError(
            f"the XML body was refused: DTDs and entities are not accepted ({exc})"
        ) from None
    except ParseError as exc:
        raise UnreadablePayload(f"the body is not well-formed XML ({exc}): {excerpt(text)}") from None
    if _local(root.tag) == "results":
        container = root
    else:
        container = next((child for child in root if _local(child.tag) == "results"), None)
    if container is None:
        if any(_local(child.tag) in _ITEM_TAGS for child in root):
            container = root  # <reportResponse><result>... without the <results> level
        else:
            children = sorted({_local(child.tag) for child in root})
            raise PayloadError(
                f"the XML body has no <results> element (root <{_local(root.tag)}>, "
                f"children: {', '.join(children[:10]) or 'none'})"
            )
    # Under <results> every element is a report, as every item of the JSON results array is
    # (a misnamed one still fails by name: "results[0] has no status object"). Directly
    # under another root, only the item tags are: that root may carry other elements.
    in_results = _local(container.tag) == "results"
    items = [
        _element_value(child, 0)
        for child in container
        if in_results or _local(child.tag) in _ITEM_TAGS
    ]
    return {"results": items}


def _element_value(element: Element, depth: int) -> Any:
    """An element as JSON would have it: text for a leaf, an object of its children otherwise."""
    children = list(element)
    if not children:
        return (element.text or "").strip()
    if depth >= _MAX_DEPTH:
        return {}
    value: dict[str, Any] = {}
    for child in children:
        value.setdefault(_local(child.tag), _element_value(child, depth + 1))
    return value


def _local(tag: Any) -> str:
    """An element's name without its namespace ("{urn:x}result" -> "result")."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else str(tag)


def _kind(value: Any) -> str:
    """What kind of value this is, in the words of Infobip's errors ("a list", "an object"):
    unlike values.json_kind, since a body may be XML and its values are no JSON arrays."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return "a number"
    kinds = {list: "a list", dict: "an object", str: "a string"}
    return kinds.get(type(value), type(value).__name__)

