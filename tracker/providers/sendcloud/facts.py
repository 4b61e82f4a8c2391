"""What a SendCloud push says: its fields (form or JSON), and per event type the facts kept.

``decode`` turns a body into Fields whatever its encoding; one function per event type,
each Fields -> Facts, says what the event adds beyond its type and time. The mapping table
in tracker.providers.sendcloud.parse names which one each event code uses. Pure; see
provider-formats.md §4.1-4.2.
"""
from __future__ import annotations

import contextlib
import json
from typing import Any
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl

from tracker.providers.common import bounded_json
from tracker.providers.common.errors import PayloadError, UnreadablePayload
from tracker.providers.common.values import Facts, compact, excerpt, not_json

FORM = "application/x-www-form-urlencoded"


class Fields:
    """One push's fields: each name -> its values (a form may repeat a key; JSON never does)."""

    def __init__(self, values: Mapping[str, list[Any]]) -> None:
        self._values = values

    def names(self) -> list[str]:
        return sorted(self._values)

    def first(self, *names: str) -> Any:
        """The first non-empty value of the first of ``names`` present, else None."""
        for name in names:
            for value in self._values.get(name, ()):
                if value is not None and value != "":
                    return value
        return None

    def text(self, *names: str) -> str | None:
        """That value as text: form values are text already, JSON numbers are written out."""
        return scalar_text(self.first(*names))

    def items(self, name: str) -> list[str]:
        """An array field, however it came: a JSON array, a JSON array encoded as a string
        inside the form, or the key repeated (``name=a&name=b``, also PHP's ``name[]=``)."""
        raw = [*self._values.get(name, ()), *self._values.get(name + "[]", ())]
        if len(raw) == 1 and isinstance(raw[0], str) and raw[0].lstrip().startswith("["):
            try:
                raw = [bounded_json.loads(raw[0])]
            except json.JSONDecodeError as exc:
                raise PayloadError(
                    f"{name} looks like a JSON array but is not one ({exc.msg}): {excerpt(raw[0])}"
                ) from None
        values: list[str] = []
        for value in raw:
            for index, item in enumerate(value if isinstance(value, list) else [value]):
                text = scalar_text(item)
                if text is None:
                    raise PayloadError(f"{name}[{index}] is not a string: {item!r}")
                values.append(text)
        return values

    def digest_source(self, leave_out: Iterable[str]) -> dict[str, list[Any]]:
        """The fields minus ``leave_out``: what stays the same when SendCloud pushes again."""
        skipped = set(leave_out)
        return {name: list(self._values[name]) for name in self.names() if name not in skipped}


def decode(body: bytes, content_type: str) -> Fields:
    """The fields of a push, a JSON object or a form: SendCloud's docs disagree on which
    [§4.1, D conflicting], and relays relabel bodies, so the body decides. A JSON object
    starts with ``{`` and a form cannot (it would be ``%7B``). The media type only chooses
    which complaint a body that is neither gets."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    if not isinstance(body, (bytes, bytearray)):
        raise PayloadError(f"SendCloud body must be bytes, got {type(body).__name__}")
    try:
        text = bytes(body).decode("utf-8").lstrip("\ufeff").strip()
    except UnicodeDecodeError as exc:
        raise UnreadablePayload(f"SendCloud body is not UTF-8 text ({exc})") from None
    if not text:
        raise PayloadError("SendCloud body is empty: expected a form or a JSON object")
    if text.startswith(("{", "[")):
        return _decode_json(text)
    fields = _decode_form(text)
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if fields.first("event") is None and (media == "application/json" or media.endswith("+json")):
        return _decode_json(text)  # not a form either: say what is wrong with it as JSON
    return fields


def _decode_json(text: str) -> Fields:
    try:
        document = bounded_json.loads(text)
    except json.JSONDecodeError as exc:
        raise UnreadablePayload(not_json("SendCloud body", exc, text)) from None
    if not isinstance(document, dict):
        raise PayloadError(
            f"SendCloud JSON body must be an object (one event per push), got "
            f"{type(document).__name__}: {excerpt(text)}"
        )
    return Fields({name: [value] for name, value in document.items()})


def _decode_form(text: str) -> Fields:
    try:
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError as exc:
        raise UnreadablePayload(
            f"SendCloud form value is not UTF-8 once percent-decoded ({exc.reason} at byte "
            f"{exc.start}): {excerpt(text)}"
        ) from None
    values: dict[str, list[Any]] = {}
    for name, value in pairs:
        values.setdefault(name, []).append(value)
    return Fields(values)


# --- facts per event type -----------------------------------------------------------------

# userHeaders echo the SC-Custom-* headers given at send time; they identify the message for
# the sender's application, but a history row must stay small, so big ones are left out.
_USER_HEADERS_LIMIT = 1000


def common_details(fields: Fields) -> dict[str, Any]:
    """The identifying fields every event may carry (§4.2 "common fields")."""
    return compact(
        messageId=fields.text("messageId"),
        labelId=fields.text("labelId"),
        labelName=fields.text("labelName"),
        category=fields.text("category"),
        apiUser=fields.text("apiUser"),
        maillistTaskId=fields.text("maillistTaskId", "mail_list_task_id"),
        userHeaders=_user_headers(fields.first("userHeaders")),
    )


def no_facts(fields: Fields) -> Facts:
    return Facts(details=common_details(fields))


def deliver_facts(fields: Fields) -> Facts:
    return Facts(details={**common_details(fields), **compact(outIp=fields.text("outIp"))})


def engagement_facts(fields: Fields) -> Facts:
    """open and unsubscribe: who the reader's client said it was."""
    return Facts(details={**common_details(fields), **_client(fields)})


def click_facts(fields: Fields) -> Facts:
    return Facts(
        details={**common_details(fields), **compact(url=fields.text("url")), **_client(fields)}
    )


# subStat codes [§4.2, D]; used as the diagnostic when SendCloud sends no subStatDesc.
SUB_STAT_MEANINGS: Mapping[str, str] = {
    "401": "address is in the SendCloud blacklist",
    "402": "recipient unsubscribed",
    "403": "recipient server unreachable",
    "404": "bad address format",
    "405": "IP or domain rejected",
    "406": "address does not exist",
    "407": "rejected as spam",
    "408": "sender or recipient rejected",
    "409": "other",
    "503": "service unavailable",
    "505": "IP or domain rejected",
    "506": "address does not exist",
    "507": "anti-spam reject",
    "508": "sender or recipient rejected",
    "509": "other",
}


def bounce_facts(fields: Fields) -> Facts:
    """invalid, soft_bounce and bounce: subStat is the subtype, subStatDesc the diagnostic.

    The field tables spell them ``substat``/``substatdesc``, a public Java DTO camelCase:
    both are read [§4.2, D conflicting]. The classic ``bounce`` event has neither, only a
    ``reason`` (the remote server's words), which then is the diagnostic.
    """
    code = fields.text("subStat", "substat")
    description = fields.text("subStatDesc", "substatdesc")
    cause = fields.text("cause")
    reason = fields.text("reason")
    return Facts(
        diagnostic=description or cause or reason or SUB_STAT_MEANINGS.get(code or ""),
        details={
            **common_details(fields),
            **compact(subStat=code, subStatDesc=description, cause=cause, reason=reason,
                      outIp=fields.text("outIp")),
        },
        bounce_subtype=code,
    )


def _client(fields: Fields) -> dict[str, Any]:
    return compact(
        ip=fields.text("ip"),
        explorerName=fields.text("explorerName"),
        explorerVer=fields.text("explorerVer"),
        oSName=fields.text("oSName"),
        oSVer=fields.text("oSVer"),
    )


def _user_headers(value: Any) -> Any:
    if isinstance(value, str) and value.lstrip().startswith("{"):
        with contextlib.suppress(json.JSONDecodeError):  # else kept as the text it is
            value = bounded_json.loads(value)
    if value is None or value == "" or value == {}:
        return None
    if len(json.dumps(value, default=str)) > _USER_HEADERS_LIMIT:
        return None
    return value


def scalar_text(value: Any) -> str | None:
    """A form value or a JSON string/integer as text; None for anything else.

    Form bodies carry every value as text and JSON bodies carry ids and codes as numbers,
    so both become the same text and the two encodings of one event give equal events.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return None

