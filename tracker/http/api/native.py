"""The native read API: /api/v1/deliveries (keyset-paginated) and each delivery's history."""
from __future__ import annotations

import uuid
from datetime import timezone

from flask import Blueprint, g, jsonify, request
from marshmallow import Schema, ValidationError, fields, validate

from tracker.pipeline import inbox, ingest
from tracker.db import repository
from tracker.http.auth import require_key
from tracker.http.api.schemas import Cursor, DeliveryQuery, DeliverySchema, delivery_item, event_item
from tracker.domain import Status, can_acknowledge, normalize_message_id
from tracker.http.errors import ApiError
from tracker.db.models import utcnow
from tracker.providers.acknowledgements import parse as acknowledgements
from tracker.services import services

blueprint = Blueprint("native_api", __name__, url_prefix="/api/v1")

_query = DeliveryQuery()
_delivery = DeliverySchema()
_cursor = Cursor()
_acknowledgement = Schema.from_dict({"note": fields.String(validate=validate.Length(max=2000))})()


@blueprint.get("/deliveries")
@require_key
def list_deliveries():
    args = load_args(_query, request.args)
    where = repository.DeliveryFilter(
        message_id=normalize_message_id(args["message_id"]) if args.get("message_id") else None,
        recipient=args.get("recipient"),
        status=args.get("status"),
        updated_after=args.get("updated_after"),
        updated_before=args.get("updated_before"),
    )
    limit = args["limit"]
    # One connection, autocommit: no session, no BEGIN, no ROLLBACK when it goes back to the pool.
    with services().db.reading() as connection:
        # One row more than asked tells whether another page exists without a count.
        rows = repository.list_deliveries(connection, g.account_id, where, after=args.get("cursor"),
                                          limit=limit + 1)
    page, more = rows[:limit], len(rows) > limit
    return jsonify(items_page(page, more, delivery_item,
                              lambda row: (row.updated_at.replace(tzinfo=timezone.utc), row.id)))


@blueprint.get("/deliveries/<int:delivery_id>/events")
@require_key
def delivery_events(delivery_id: int):
    with services().db.reading() as connection:
        rows = repository.history_rows(connection, g.account_id, delivery_id)
    if rows is None:
        raise ApiError(404, "not_found", f"no delivery {delivery_id}")
    return jsonify({"data": [event_item(row) for row in rows]})


def page_of(page, more: bool, schema, position) -> dict:
    """The list envelope: the items and the cursor of the next page (null on the last)."""
    next_cursor = _cursor._serialize(position(page[-1]), None, None) if more else None
    return {"data": schema.dump(page, many=True), "next_cursor": next_cursor}


def items_page(page, more: bool, item, position) -> dict:
    """page_of's envelope, each row rendered by a plain function (``item``) instead of a schema's dump."""
    next_cursor = _cursor._serialize(position(page[-1]), None, None) if more else None
    return {"data": [item(row) for row in page], "next_cursor": next_cursor}


def load_body(schema, optional: bool = False):
    """The request's JSON object loaded through ``schema``, or a 400 naming what is wrong.

    ``optional``: no body at all loads as {}.
    """
    payload = request.get_json(silent=True)
    if payload is None and optional and not request.get_data(cache=True):
        payload = {}
    if not isinstance(payload, dict):
        raise ApiError(400, "invalid_request", "send a JSON object")
    try:
        return schema.load(payload)
    except ValidationError as error:
        raise ApiError(400, "invalid_request", _explain(error)) from None


def _explain(error: ValidationError) -> str:
    return "; ".join(f"{name}: {' '.join(map(str, msgs))}" for name, msgs in sorted(error.messages.items()))


def load_args(schema, args):
    unknown = sorted(set(args) - set(schema.fields))
    if unknown:
        raise ApiError(400, "invalid_request", f"unknown parameter(s): {', '.join(unknown)}")
    repeated = sorted(name for name in args if len(args.getlist(name)) > 1)
    if repeated:  # every parameter is one value: a second would be silently dropped
        raise ApiError(400, "invalid_request", f"give each parameter once: {', '.join(repeated)}")
    try:
        return schema.load(args.to_dict())
    except ValidationError as error:
        raise ApiError(400, "invalid_request", _explain(error)) from None


@blueprint.post("/deliveries/<int:delivery_id>/acknowledge")
@require_key
def acknowledge(delivery_id: int):
    """Mark a failed delivery ACKNOWLEDGED; 409 with the reason for any other status.

    The acknowledgement is recorded in the inbox like a provider event, so a replay or a
    rebuild from the inbox keeps it, and applied at once through the same worker path.
    """
    app = services()
    note = load_body(_acknowledgement, optional=True).get("note")
    with app.db.session() as session:
        delivery = repository.delivery_of_account(session, g.account_id, delivery_id)
    if delivery is None:
        raise ApiError(404, "not_found", f"no delivery {delivery_id}")
    refusal = can_acknowledge(Status(delivery.status))
    if refusal is not None:
        raise ApiError(409, "conflict", refusal)
    record = acknowledgements.body(message_id=delivery.message_id, recipient=delivery.recipient,
                                   by=f"key:{g.key_id}", at=utcnow(), note=note)
    with app.db.engine.begin() as connection:
        inbox_id = repository.store_inbox_event(
            connection, source_id=None, account_id=g.account_id, provider=acknowledgements.PROVIDER,
            kind=inbox.ACKNOWLEDGEMENT, dedupe_key=f"ack:{uuid.uuid4()}", body=record)
    ingest.process_rows(app.db, [inbox_id], app.confirmer, app.settings)
    with app.db.session() as session:
        return jsonify(_delivery.dump(repository.delivery_of_account(session, g.account_id, delivery_id)))
