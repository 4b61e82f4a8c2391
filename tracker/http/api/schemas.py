"""Marshmallow schemas of the native API: query arguments in, deliveries and events out."""
from __future__ import annotations

from datetime import timezone

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
        super().__init__(default_timezone=timezone.utc, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
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
