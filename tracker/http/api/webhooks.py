"""Webhook subscriptions: /api/v1/webhooks (create, list, show, update, delete, test, the delivery
log with every attempt) and the operators' replay of parked events under /api/v1/admin/webhooks."""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, g, jsonify, request
from marshmallow import Schema, fields, validate

from tracker.db import repository
from tracker.http.auth import require_key, require_operator
from tracker.http.args import load_args, load_body
from tracker.http.api.schemas import DEFAULT_LIMIT, MAX_LIMIT, IdCursor, StrictBoolean
from tracker.domain import Status
from tracker.http.errors import ApiError
from tracker.db.models import utcnow
from tracker.outbound import destinations, outbox, signing
from tracker.services import services

# The most parked events one replay request names, as the admin events' replay (admin.MAX_IDS).
MAX_REPLAY_IDS = 1000

blueprint = Blueprint("webhooks_api", __name__)

_STATUSES = [s.value for s in Status]


class SubscriptionSchema(Schema):
    id = fields.Integer(dump_only=True)
    url = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    statuses = fields.List(fields.String(validate=validate.OneOf(_STATUSES)), load_default=list)
    active = StrictBoolean(load_default=True)
    disabled_reason = fields.String(dump_only=True, allow_none=True)
    disabled_at = fields.DateTime(dump_only=True, allow_none=True)
    failing_since = fields.DateTime(dump_only=True, allow_none=True)
    # Set after a rotation: until then the replaced secret signs each request too.
    previous_secret_expires_at = fields.DateTime(dump_only=True, allow_none=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class NewSubscriptionSchema(SubscriptionSchema):
    """What creating a subscription answers: the subscription and, this once, its signing secret."""

    secret = fields.String(dump_only=True)


class AttemptSchema(Schema):
    attempted_at = fields.DateTime()
    status_code = fields.Integer(allow_none=True)
    latency_ms = fields.Float(allow_none=True)
    error = fields.String(allow_none=True)


class EventLogSchema(Schema):
    id = fields.Integer()
    type = fields.String()
    delivery_id = fields.Integer(allow_none=True)
    sequence = fields.Integer()
    state = fields.String()
    attempts = fields.Integer()
    last_status = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    next_attempt_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    delivered_at = fields.DateTime(allow_none=True)
    parked_at = fields.DateTime(allow_none=True)
    attempts_log = fields.List(fields.Nested(AttemptSchema))  # every POST, oldest first


class RotationBody(Schema):
    """Optional: how long the replaced secret keeps signing too (0: it stops at once)."""

    previous_secret_hours = fields.Integer(
        strict=True, load_default=signing.PREVIOUS_SECRET_HOURS,
        validate=validate.Range(min=0, max=signing.MAX_PREVIOUS_SECRET_HOURS))


class ReplayBody(Schema):
    """Optional: {"ids": [...]} replays those parked events only (at most 1,000, as the admin
    events' replay takes: one request stays one bounded statement)."""

    ids = fields.List(fields.Integer(strict=True), validate=validate.Length(max=MAX_REPLAY_IDS))


class EventLogQuery(Schema):
    state = fields.String(validate=validate.OneOf(["pending", "sending", "delivered", "parked"]))
    limit = fields.Integer(load_default=DEFAULT_LIMIT, validate=validate.Range(min=1, max=MAX_LIMIT))
    cursor = IdCursor()


_subscription, _create, _update = SubscriptionSchema(), SubscriptionSchema(), SubscriptionSchema(partial=True)
_log, _log_query, _cursor, _attempt = EventLogSchema(), EventLogQuery(), IdCursor(), AttemptSchema()
_replay, _rotation = ReplayBody(), RotationBody()


@blueprint.post("/api/v1/webhooks")
@require_key
def create():
    body = load_body(_create)
    _check_url(body["url"])
    secret = signing.new_secret()
    with services().db.transaction() as session:
        subscription = repository.create_subscription(session, account_id=g.account_id, url=body["url"],
                                                      secret=secret, statuses=body["statuses"])
        subscription.active = body["active"]
        shown = _subscription.dump(subscription)
    # The secret is shown this once; it signs every request (see the README's recipe).
    return jsonify({**shown, "secret": secret}), 201


@blueprint.get("/api/v1/webhooks")
@require_key
def list_all():
    with services().db.session() as session:
        return jsonify({"data": _subscription.dump(repository.list_subscriptions(session, g.account_id), many=True)})


@blueprint.get("/api/v1/webhooks/<int:subscription_id>")
@require_key
def show(subscription_id: int):
    with services().db.session() as session:
        return jsonify(_subscription.dump(_own(session, subscription_id)))


@blueprint.patch("/api/v1/webhooks/<int:subscription_id>")
@require_key
def change(subscription_id: int):
    body = load_body(_update)
    if "url" in body:
        _check_url(body["url"])
    with services().db.transaction() as session:
        subscription = _own(session, subscription_id)
        for name in ("url", "statuses"):
            if name in body:
                setattr(subscription, name, body[name])
        if "active" in body:
            subscription.active = body["active"]
            if body["active"]:  # the owner re-enables it: the failure streak starts over
                subscription.disabled_reason = subscription.disabled_at = subscription.failing_since = None
        subscription.updated_at = utcnow()
        return jsonify(_subscription.dump(subscription))


@blueprint.route("/api/v1/webhooks/<int:subscription_id>", methods=["DELETE"])
@require_key
def remove(subscription_id: int):
    with services().db.transaction() as session:
        repository.delete_subscription(session, _own(session, subscription_id))
    return "", 204


@blueprint.post("/api/v1/webhooks/<int:subscription_id>/rotate-secret")
@require_key
def rotate_secret(subscription_id: int):
    """A new signing secret, answered this once; the replaced one also signs for ``previous_secret_hours``."""
    hours = load_body(_rotation, optional=True)["previous_secret_hours"]
    secret, now = signing.new_secret(), utcnow()
    with services().db.transaction() as session:
        subscription = _own(session, subscription_id)
        repository.rotate_subscription_secret(subscription, secret, now + timedelta(hours=hours) if hours else None,
                                              now)
        return jsonify({**_subscription.dump(subscription), "secret": secret})


@blueprint.post("/api/v1/webhooks/<int:subscription_id>/test")
@require_key
def send_test(subscription_id: int):
    with services().db.transaction() as session:
        try:
            outbox.enqueue_test(session, _own(session, subscription_id), utcnow())
        except outbox.SubscriptionDisabled as disabled:
            raise ApiError(409, "conflict", f'{disabled} (PATCH {{"active": true}})') from None
    _wake_senders()
    return jsonify({"status": "queued"}), 202


@blueprint.get("/api/v1/webhooks/<int:subscription_id>/events")
@require_key
def event_log(subscription_id: int):
    """The subscription's events, oldest first, with their state and every attempt (status, latency, error)."""
    args = load_args(_log_query, request.args)
    limit = args["limit"]
    with services().db.session() as session:
        _own(session, subscription_id)
        rows = repository.webhook_events_of(session, subscription_id, state=args.get("state"),
                                            after_id=args.get("cursor") or 0, limit=limit + 1)
        page = rows[:limit]
        attempts = repository.webhook_attempts(session, [row.id for row in page])
    items = [{**_log.dump(row), "attempts_log": _attempt.dump(attempts.get(row.id, []), many=True)} for row in page]
    return jsonify({"data": items,
                    "next_cursor": _cursor._serialize(page[-1].id, None, None) if len(rows) > limit else None})


@blueprint.post("/api/v1/admin/webhooks/<int:subscription_id>/replay")
@require_operator
def replay(subscription_id: int):
    """Send parked events again (all of the subscription's, or {"ids": [...]}) with a fresh retry window."""
    ids = load_body(_replay, optional=True).get("ids")
    with services().db.transaction() as session:
        _own(session, subscription_id)
        replayed = repository.replay_parked(session, subscription_id=subscription_id, ids=ids,
                                            account_id=g.account_id)
    _wake_senders()
    return jsonify({"replayed": replayed})


def _own(session, subscription_id: int):
    subscription = repository.subscription_of(session, g.account_id, subscription_id)
    if subscription is None:
        raise ApiError(404, "not_found", f"no webhook subscription {subscription_id}")
    return subscription


def _check_url(url: str) -> None:
    try:
        destinations.resolve(url, services().webhook_settings.policy)
    except destinations.DestinationRefused as refused:
        raise ApiError(400, "invalid_request", f"url: {refused}") from None


def _wake_senders() -> None:
    app = services()
    if app.webhook_waker is not None:
        app.webhook_waker.wake()
    elif app.config.broker_url:
        try:
            from flask import current_app

            current_app.extensions["celery"].send_task("workers.tasks.send_webhooks", queue="webhooks")
        except Exception:  # the beat schedule sends it within seconds anyway
            pass
