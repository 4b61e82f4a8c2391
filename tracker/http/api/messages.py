"""Message registration: POST /api/v1/messages (one or a batch), PATCH to attach the provider id, GET."""
from __future__ import annotations

from flask import Blueprint, g, jsonify, request
from marshmallow import Schema, ValidationError, fields, validate

from tracker.pipeline import registration
from tracker.http.auth import require_key
from tracker.http.args import load_body
from tracker.http.api.schemas import DeliverySchema, delivery_item
from tracker.http.errors import ApiError
from tracker.db import repository
from tracker.db.models import Message
from tracker.domain.attributes import ATTRIBUTE_TAGS
from tracker.services import services

blueprint = Blueprint("messages_api", __name__, url_prefix="/api/v1/messages")

MAX_BATCH = 500


class RegistrationSchema(Schema):
    message_id = fields.String(validate=validate.Length(min=1, max=300), load_default=None)
    provider = fields.String(validate=validate.Length(max=32), load_default=None)
    recipients = fields.List(fields.Email(), required=True, validate=validate.Length(min=1, max=1000))
    from_ = fields.String(data_key="from", load_default=None)
    subject = fields.String(load_default=None)
    params = fields.Dict(load_default=None)
    attachments_metadata = fields.List(fields.Dict(), load_default=None)
    cc = fields.List(fields.Email(), load_default=None)
    bcc = fields.List(fields.Email(), load_default=None)
    tags = fields.Dict(load_default=None)

    class Meta:
        # The compatible APIs' filter attributes (bulkId, billRunId, labelName, ...) sit at the top level.
        include = {name: fields.Raw(load_default=None) for name in ATTRIBUTE_TAGS}


class MessageSchema(Schema):
    id = fields.Integer()
    message_id = fields.String()
    from_address = fields.String(data_key="from", allow_none=True)
    subject = fields.String(allow_none=True)
    attributes = fields.Dict()
    params = fields.Dict(allow_none=True)
    attachments_metadata = fields.List(fields.Dict(), allow_none=True)
    cc = fields.List(fields.String(), allow_none=True)
    bcc = fields.List(fields.String(), allow_none=True)
    registered_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    # Filled by the view (_shown): the message's deliveries, one per recipient, by id.
    deliveries = fields.List(fields.Nested(DeliverySchema), dump_only=True)


_registration, _message, _delivery = RegistrationSchema(), MessageSchema(), DeliverySchema()


@blueprint.post("")
@require_key
def register():
    payload = request.get_json(silent=True)
    batch = payload.get("messages") if isinstance(payload, dict) and "messages" in payload else payload
    single = isinstance(batch, dict)
    specs = [batch] if single else batch
    if not isinstance(specs, list) or not specs or len(specs) > MAX_BATCH:
        raise ApiError(400, "invalid_request", f"send a message object or a list of 1 to {MAX_BATCH}")
    try:
        loaded = [_registration.load(spec) for spec in specs]
    except ValidationError as error:
        raise ApiError(400, "invalid_request", str(error.messages)) from None
    with services().db.transaction() as session:
        specs = [_spec(spec) for spec in loaded]
        registration.lock_for(session, g.account_id, specs)
        results = [_shown(session, registration.register(session, g.account_id, spec)) for spec in specs]
    return jsonify(results[0] if single else {"data": results}), 201


@blueprint.patch("/<int:message_row_id>")
@require_key
def attach(message_row_id: int):
    body = load_body(Schema.from_dict({"message_id": fields.String(required=True,
                                                                   validate=validate.Length(min=1, max=300))})())
    with services().db.transaction() as session:
        message = _own(session, message_row_id)
        try:
            message = registration.attach_provider_id(session, message, body["message_id"])
        except ValueError as error:
            raise ApiError(409, "conflict", str(error)) from None
        return jsonify(_shown(session, message))


@blueprint.get("/<int:message_row_id>")
@require_key
def show(message_row_id: int):
    with services().db.session() as session:
        return jsonify(_shown(session, _own(session, message_row_id)))


def _spec(loaded: dict) -> dict:
    spec = {key: value for key, value in loaded.items() if key != "from_"}
    spec["from"] = loaded.get("from_")
    return spec


def _own(session, message_row_id: int) -> Message:
    message = repository.message_of_account(session, g.account_id, message_row_id)
    if message is None:
        raise ApiError(404, "not_found", f"no message {message_row_id}")
    return message


def _shown(session, message: Message) -> dict:
    rows = repository.deliveries_of_message(session, message.account_id, message.message_id)
    return {**_message.dump(message), "deliveries": [delivery_item(row) for row in rows]}
