"""The operators' admin API under /api/v1/admin/events: list, show, replay and discard, per account.

Operator keys only. Replays here run in the request and are bounded (MAX_IDS per call):
a replay by filter goes through the matching failed events MAX_IDS at a time and answers
the cursor to continue from, so a client loops until it is null. Very large replays
belong to `tracker events replay --all-failed`, which shows progress and resumes if interrupted.
"""
from __future__ import annotations

from flask import Blueprint, g, jsonify, request
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from tracker.pipeline import operations
from tracker.domain import inbox
from tracker.db import repository
from tracker.http.auth import require_operator
from tracker.http.args import load_args, load_body
from tracker.http.api.schemas import DEFAULT_LIMIT, MAX_LIMIT, DeliverySchema, IdCursor, UtcDateTime
from tracker.http.errors import ApiError
from tracker.providers.common import bounded_json
from tracker.db.repository.operations import EventFilter
from tracker.services import services

blueprint = Blueprint("admin_api", __name__, url_prefix="/api/v1/admin/events")

MAX_IDS = 1000


class EventQuery(Schema):
    state = fields.String(load_default=inbox.FAILED, validate=validate.OneOf(repository.LISTABLE_STATES))
    provider = fields.String()
    since = UtcDateTime()
    error_contains = fields.String(validate=validate.Length(min=1, max=200))
    limit = fields.Integer(load_default=DEFAULT_LIMIT, validate=validate.Range(min=1, max=MAX_LIMIT))
    cursor = IdCursor()


class EventSchema(Schema):
    id = fields.Integer()
    provider = fields.String()
    kind = fields.String()
    state = fields.String()
    received_at = fields.DateTime()
    request_id = fields.String(allow_none=True, metadata={
        "description": "the id of the request that brought it (its X-Request-Id), or its SQS MessageId"})
    attempts = fields.Integer()
    error = fields.String(allow_none=True)
    failure_kind = fields.String(allow_none=True)
    first_failed_at = fields.DateTime(allow_none=True)
    last_failed_at = fields.DateTime(allow_none=True)
    next_attempt_at = fields.DateTime(allow_none=True)
    processed_at = fields.DateTime(allow_none=True)
    replay_count = fields.Integer()
    replayed_at = fields.DateTime(allow_none=True)
    discarded_at = fields.DateTime(allow_none=True)
    discarded_by = fields.String(allow_none=True)
    discard_reason = fields.String(allow_none=True)


class ShownEventSchema(EventSchema):
    """One event as GET /api/v1/admin/events/<id> shows it (filled by the view: show())."""

    content_type = fields.String(allow_none=True)
    payload = fields.Raw()
    deliveries = fields.List(fields.Nested(DeliverySchema))


class IdsBody(Schema):
    ids = fields.List(fields.Integer(strict=True), required=True, validate=validate.Length(min=1, max=MAX_IDS))


class FilterBody(Schema):
    provider = fields.String(validate=validate.Length(min=1, max=32))
    since = UtcDateTime()
    error_contains = fields.String(validate=validate.Length(min=1, max=200))


class ReplayBody(Schema):
    """Either ``ids``, or ``filter`` (every failed event of the account matching it) with an optional ``cursor``."""

    ids = fields.List(fields.Integer(strict=True), validate=validate.Length(min=1, max=MAX_IDS))
    filter = fields.Nested(FilterBody)
    cursor = IdCursor()

    @validates_schema
    def _one_way(self, data, **kwargs):
        if ("ids" in data) == ("filter" in data):
            raise ValidationError("give either ids or filter", "ids")
        if "cursor" in data and "filter" not in data:
            raise ValidationError("a cursor continues a replay by filter", "cursor")


def _not_blank(text: str) -> None:
    if not text.strip():  # operations.discard refuses a blank reason
        raise ValidationError("give a reason (not only white space)")


# The same rule for the OpenAPI document: at least one character that str.strip() keeps, no NUL.
_WHITE_SPACE = "".join(f"\\u{code:04x}" for code in range(0x10000) if chr(code).isspace())
REASON_PATTERN = f"^[^\\u0000]*[^\\u0000{_WHITE_SPACE}][^\\u0000]*$"


class DiscardBody(IdsBody):
    reason = fields.String(required=True, validate=[validate.Length(min=1, max=2000), _not_blank],
                           metadata={"pattern": REASON_PATTERN})


class DiscardOneBody(Schema):
    reason = fields.String(required=True, validate=[validate.Length(min=1, max=2000), _not_blank],
                           metadata={"pattern": REASON_PATTERN})


_query, _event, _delivery, _cursor = EventQuery(), EventSchema(), DeliverySchema(), IdCursor()


@blueprint.get("")
@require_operator
def list_events():
    args = load_args(_query, request.args)
    where = EventFilter(state=args["state"], provider=args.get("provider"), account_id=g.account_id,
                        since=args.get("since"), error_contains=args.get("error_contains"))
    limit = args["limit"]
    with services().db.session() as session:
        rows = repository.list_inbox_events(session, where, after_id=args.get("cursor") or 0, limit=limit + 1)
    page, more = rows[:limit], len(rows) > limit
    return jsonify({"data": _event.dump(page, many=True),
                    "next_cursor": _cursor._serialize(page[-1].id, None, None) if more else None})


@blueprint.get("/<int:event_id>")
@require_operator
def show(event_id: int):
    with services().db.session() as session:
        row = repository.inbox_event(session, event_id, account_id=g.account_id)
        if row is None:
            raise ApiError(404, "not_found", f"no event {event_id}")
        touched = repository.deliveries_touched(session, event_id)
    return jsonify({**_event.dump(row), "content_type": row.content_type, "payload": _payload(row.body),
                    "deliveries": _delivery.dump(touched, many=True)})


@blueprint.post("/replay")
@require_operator
def replay_many():
    body = load_body(ReplayBody())
    if "ids" in body:
        return jsonify(operations.replay_ids(services(), _own(body["ids"])).as_dict())
    where = EventFilter(state=inbox.FAILED, account_id=g.account_id, **body["filter"])
    with services().db.session() as session:
        ids = repository.inbox_ids(session, where, after_id=body.get("cursor") or 0, limit=MAX_IDS + 1)
    batch, more = ids[:MAX_IDS], len(ids) > MAX_IDS
    # The cursor passes what this call replayed, so events that fail again are not replayed
    # again by the same loop.
    return jsonify({**operations.replay_ids(services(), batch).as_dict(),
                    "next_cursor": _cursor._serialize(batch[-1], None, None) if more else None})


@blueprint.post("/<int:event_id>/replay")
@require_operator
def replay_one(event_id: int):
    return jsonify(operations.replay_ids(services(), _own([event_id], strict=True)).as_dict())


@blueprint.post("/discard")
@require_operator
def discard_many():
    body = load_body(DiscardBody())
    done = operations.discard(services(), _own(body["ids"]), reason=body["reason"], by=f"key:{g.key_id}",
                              account_id=g.account_id)
    return jsonify({"discarded": done})


@blueprint.post("/<int:event_id>/discard")
@require_operator
def discard_one(event_id: int):
    reason = load_body(DiscardOneBody())
    done = operations.discard(services(), _own([event_id], strict=True), reason=reason["reason"],
                              by=f"key:{g.key_id}", account_id=g.account_id)
    if not done:
        raise ApiError(409, "conflict", f"event {event_id} is neither failed nor pending")
    return jsonify({"discarded": done})


def _own(ids, strict: bool = False) -> list[int]:
    """The ids among ``ids`` that belong to the caller's account (another account's id: 404)."""
    with services().db.session() as session:
        own = repository.inbox_ids_of_account(session, ids, g.account_id)
    if strict and not own:
        raise ApiError(404, "not_found", f"no event {ids[0]}")
    return own


def _payload(body: str):
    """The stored body as JSON when it is JSON an operator can be shown (bounded depth), else as text."""
    try:
        return bounded_json.loads(body)
    except ValueError:
        return body
