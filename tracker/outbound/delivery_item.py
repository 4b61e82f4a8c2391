"""The delivery item: one JSON shape for a delivery, sent to webhook subscribers and rendered by the native API."""
from __future__ import annotations

from marshmallow import Schema, fields


class DeliverySchema(Schema):
    """A delivery as subscribers receive it and /api/v1/deliveries lists it."""

    id = fields.Integer()
    message_id = fields.String()
    recipient = fields.String()
    provider = fields.String()
    # When the message was sent (tracker.domain.submitted_at): the provider's own send time
    # (SES mail.timestamp, Infobip sentAt), else registration, else the first event; never
    # when the tracker heard (created_at). Null only while nothing says when it was sent.
    sent_at = fields.DateTime(attribute="submitted_at", allow_none=True)
    status = fields.String()
    status_at = fields.DateTime(allow_none=True)  # null while PENDING: registered, no provider event yet
    bounce_type = fields.String(allow_none=True)
    bounce_subtype = fields.String(allow_none=True)
    diagnostic = fields.String(allow_none=True)
    events_count = fields.Integer()
    engagement = fields.Method("_engagement", metadata={"type": "object", "properties": {
        "opens": {"type": "integer"}, "clicks": {"type": "integer"},
        **{name: {"type": "string", "format": "date-time", "nullable": True}
           for name in ("first_opened_at", "last_opened_at", "first_clicked_at", "last_clicked_at")},
        "last_clicked_link": {"type": "string", "nullable": True}}, "additionalProperties": False})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()

    def _engagement(self, delivery) -> dict:
        iso = lambda moment: moment.isoformat() if moment else None  # noqa: E731
        return {
            "opens": delivery.opens_count, "first_opened_at": iso(delivery.first_opened_at),
            "last_opened_at": iso(delivery.last_opened_at), "clicks": delivery.clicks_count,
            "first_clicked_at": iso(delivery.first_clicked_at), "last_clicked_at": iso(delivery.last_clicked_at),
            "last_clicked_link": delivery.last_clicked_link,
        }
