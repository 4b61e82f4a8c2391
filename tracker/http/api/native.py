"""The native read API: /api/v1/deliveries (keyset-paginated) and each delivery's history."""
from __future__ import annotations

from datetime import UTC

from flask import Blueprint, g, jsonify, request
from marshmallow import Schema, fields, validate

from tracker.pipeline import acknowledgement
from tracker.db import repository
from tracker.http import request_ids
from tracker.http.auth import require_key
from tracker.http.api.schemas import DeliveryQuery, DeliverySchema, delivery_item, event_item
from tracker.http.args import items_page, load_args, load_body
from tracker.domain import Status, can_acknowledge, normalize_message_id
from tracker.http.errors import ApiError
from tracker.services import services

blueprint = Blueprint("native_api", __name__, url_prefix="/api/v1")

_query = DeliveryQuery()
_delivery = DeliverySchema()
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
    # One statement on a kept connection in autocommit, run on the driver: no session, no BEGIN or
    # ROLLBACK, no pool checkout, no SQLAlchemy execution path (tracker.db.driver_reads).
    with services().db.driver_reading() as connection:
        # One row more than asked tells whether another page exists without a count.
        rows = repository.list_deliveries(connection, g.account_id, where, after=args.get("cursor"),
                                          limit=limit + 1)
    page, more = rows[:limit], len(rows) > limit
    return jsonify(items_page(page, more, delivery_item,
                              lambda row: (row.updated_at.replace(tzinfo=UTC), row.id)))


@blueprint.get("/deliveries/<int:delivery_id>/events")
@require_key
def delivery_events(delivery_id: int):
    with services().db.reading() as connection:
        rows = repository.history_rows(connection, g.account_id, delivery_id)
    if rows is None:
        raise ApiError(404, "not_found", f"no delivery {delivery_id}")
    return jsonify({"data": [event_item(row) for row in rows]})


@blueprint.post("/deliveries/<int:delivery_id>/acknowledge")
@require_key
def acknowledge(delivery_id: int):
    """Mark a failed delivery ACKNOWLEDGED; 409 with the reason for any other status.

    The acknowledgement goes through the pipeline (tracker.pipeline.acknowledgement): kept
    in the inbox, applied at once.
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
    acknowledgement.acknowledge(app, g.account_id, delivery.message_id, delivery.recipient,
                                by=f"key:{g.key_id}", note=note, request_id=request_ids.current())
    with app.db.session() as session:
        return jsonify(_delivery.dump(repository.delivery_of_account(session, g.account_id, delivery_id)))
