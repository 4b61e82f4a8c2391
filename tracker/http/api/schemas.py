"""Marshmallow schemas of the native API: query arguments in, deliveries and events out."""
from __future__ import annotations

from datetime import UTC

from marshmallow import Schema, ValidationError, fields, post_load, validate

from tracker.http import moments
from tracker.http.cursors import Cursor, IdCursor  # noqa: F401 - the lists' cursor fields
from tracker.outbound.delivery_item import DeliverySchema  # noqa: F401 - the native API renders the webhooks' item
from tracker.domain import Status, normalize_address
from tracker.domain.suppression import Reason

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100


class UtcDateTime(fields.AwareDateTime):
    """ISO 8601, UTC when no zone is named, loaded as UTC within years 1-9999 (tracker.http.moments)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(default_timezone=UTC, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        # The "+" of a shown time pasted unencoded into a URL arrives as a space, as the
        # compatible APIs' filters read it too.
        value = moments.plus_restored(value) if isinstance(value, str) else value
        return moments.in_utc(super()._deserialize(value, attr, data, **kwargs))


class StrictBoolean(fields.Boolean):
    """JSON true or false, nothing else (marshmallow's Boolean also takes 1, "yes", "on"...)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


def _known_status(value: str) -> None:
    if value.upper() not in Status.__members__:
        raise ValidationError(f"must be one of {', '.join(Status.__members__)}")


def any_case(words) -> str:
    """A pattern (ECMA-262 has no case flag) for any of ``words`` in any case: [sS][eE][nN][tT]..."""
    spelled = ("".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in word) for word in words)
    return f"^({'|'.join(spelled)})$"


class KeysetQuery(Schema):
    """limit and cursor, shared by every keyset-paginated list."""

    limit = fields.Integer(load_default=DEFAULT_LIMIT, validate=validate.Range(min=1, max=MAX_LIMIT))
    cursor = Cursor()


class DeliveryQuery(KeysetQuery):
    message_id = fields.String(validate=validate.Length(min=1, max=300))
    recipient = fields.String(validate=validate.Length(min=1, max=320))
    status = fields.String(validate=_known_status, metadata={"pattern": any_case(Status.__members__)})
    updated_after = UtcDateTime()
    updated_before = UtcDateTime()

    @post_load
    def _normalize(self, data, **kwargs):
        if "recipient" in data:
            try:
                data["recipient"] = normalize_address(data["recipient"])
            except ValueError:
                # Not an address: it equals no stored (normalized) recipient, so the page is
                # empty, as for any address the account never sent to.
                data["recipient"] = data["recipient"].strip().lower()
        if "status" in data:
            data["status"] = data["status"].upper()
        return data


def delivery_item(row) -> dict:
    """What DeliverySchema dumps for a delivery, from a row of repository.LISTED_COLUMNS (times naive UTC).

    A list page renders its rows with this rather than a marshmallow dump (about 20 us a row
    less); DeliverySchema stays the document's description, and tests/unit/test_list_items.py
    holds the two equal once written. The times stay as read: the response's JSON writer
    (tracker.http.json_out) writes them as DeliverySchema does, in C.
    """
    (id_, message_id, recipient, provider, submitted_at, status, status_at, bounce_type, bounce_subtype, diagnostic,
     events_count, opens, first_opened_at, last_opened_at, clicks, first_clicked_at, last_clicked_at, last_clicked_link,
     created_at, updated_at) = row
    return {
        "id": id_, "message_id": message_id, "recipient": recipient, "provider": provider,
        "sent_at": submitted_at, "status": status, "status_at": status_at,
        "bounce_type": bounce_type, "bounce_subtype": bounce_subtype, "diagnostic": diagnostic,
        "events_count": events_count,
        "engagement": {
            "opens": opens, "first_opened_at": first_opened_at, "last_opened_at": last_opened_at,
            "clicks": clicks, "first_clicked_at": first_clicked_at, "last_clicked_at": last_clicked_at,
            "last_clicked_link": last_clicked_link,
        },
        "created_at": created_at, "updated_at": updated_at,
    }


def event_item(row) -> dict:
    """What EventSchema dumps for a history event, from a row of repository.HISTORY_COLUMNS (times naive UTC,
    written by the response's JSON writer as for delivery_item)."""
    (id_, type_, status, occurred_at, bounce_type, bounce_subtype, diagnostic, details, inbox_event_id,
     recorded_at) = row
    return {"id": id_, "type": type_, "status": status, "occurred_at": occurred_at, "bounce_type": bounce_type,
            "bounce_subtype": bounce_subtype, "diagnostic": diagnostic,
            "details": None if details is None else dict(details), "inbox_event_id": inbox_event_id,
            "recorded_at": recorded_at}


class EventSchema(Schema):
    id = fields.Integer()
    type = fields.String()
    status = fields.String(allow_none=True)
    occurred_at = fields.DateTime()
    bounce_type = fields.String(allow_none=True)
    bounce_subtype = fields.String(allow_none=True)
    diagnostic = fields.String(allow_none=True)
    details = fields.Dict()
    inbox_event_id = fields.Integer(allow_none=True)
    recorded_at = fields.DateTime()


class SuppressionQuery(KeysetQuery):
    reason = fields.String(validate=validate.OneOf([r.value for r in Reason]))


class SuppressionSchema(Schema):
    address = fields.String()
    reason = fields.String()
    provider = fields.String()
    message_id = fields.String()
    event_key = fields.String()
    occurred_at = fields.DateTime()
    created_at = fields.DateTime()
