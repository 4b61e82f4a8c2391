"""GET /api/v1/openapi.json: the OpenAPI 3 document of the native and compatible APIs.

The document is the truth (tests/integration/test_openapi_conformance.py runs schemathesis
against it): apispec renders the marshmallow schemas the views really use, for their query
parameters as for their bodies, and every status an operation can answer is listed, with the
error shape of its API style. Every operation may also answer 414 and 431 (a request line or
headers past the server's limits, answered by gunicorn before the app; see
tracker.http.gunicorn_config) and 503 (the database is away). Every answer of the app carries
X-Request-Id (declared once, on every response but gunicorn's). tracker.http.api.openapi_compat
holds the compatible APIs' paths.
"""
from __future__ import annotations

import functools

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, jsonify

from tracker.adapters.logs import REQUEST_ID_LENGTH
from tracker.http.api.openapi_parts import errors, ok, operation, path_id, ref

blueprint = Blueprint("openapi", __name__)
GUNICORN_ANSWERS = ("414", "431")  # answered before the app: no request id


def native(summary: str, parameters: list, responses: dict, *, codes: tuple[str, ...] = (), **kwargs) -> dict:
    """A native operation: 400 (the input guard reads headers too), 401 and 429 always; 403 and 413 with a body."""
    extra = ("403", "413") if kwargs.get("body") is not None else ()
    return operation(summary, parameters, {**responses, **errors("native", "400", "401", *codes, *extra, "429")},
                     **kwargs)


def page(item: str) -> dict:
    return {"type": "object", "required": ["data", "next_cursor"], "additionalProperties": False,
            "properties": {"data": {"type": "array", "items": ref(item)},
                           "next_cursor": {"type": "string", "nullable": True}}}


def listing(item: str) -> dict:
    return {"type": "object", "required": ["data"], "additionalProperties": False,
            "properties": {"data": {"type": "array", "items": ref(item)}}}


def _native_paths() -> dict:
    """/api/v1/...: deliveries, messages, suppressions, webhooks and the operators' admin API."""
    from tracker.http.api.admin import EventQuery
    from tracker.http.api.schemas import DeliveryQuery, SuppressionQuery
    from tracker.http.api.stats import ReputationQuery, StatsQuery
    from tracker.http.api.webhooks import EventLogQuery

    def args(schema) -> list:  # the query schema the view loads, expanded by apispec
        return [{"in": "query", "schema": schema}]

    address = {"in": "path", "name": "address", "required": True, "schema": {"type": "string", "minLength": 3}}
    admin = {"tag": "admin"}
    return {
        "/api/v1/deliveries": {"get": native("List deliveries (keyset pages, oldest change first)",
                                             args(DeliveryQuery), ok("a page of deliveries", page("Delivery")))},
        "/api/v1/deliveries/{delivery_id}/events": {"get": native(
            "A delivery's history, oldest first", [path_id("delivery_id")], ok("events", listing("DeliveryEvent")),
            codes=("404",))},
        "/api/v1/deliveries/{delivery_id}/acknowledge": {"post": native(
            "Acknowledge a failed delivery (409 unless ERROR, BOUNCED or COMPLAINT)", [path_id("delivery_id")],
            ok("the delivery, now ACKNOWLEDGED", "Delivery"), codes=("404", "409"), body="Acknowledgement",
            body_required=False)},
        "/api/v1/messages": {"post": native(
            "Register a message, or a batch ({\"messages\": [...]} or a list)", [],
            ok("the message (a batch: {\"data\": [...]})", {"oneOf": [ref("Message"), listing("Message")]}, "201"),
            body={"oneOf": [ref("Registration"), {"type": "array", "items": ref("Registration"), "minItems": 1,
                                                  "maxItems": 500},
                            {"type": "object", "required": ["messages"], "additionalProperties": False,
                             "properties": {"messages": {"type": "array", "items": ref("Registration"),
                                                         "minItems": 1, "maxItems": 500}}}]})},
        "/api/v1/messages/{message_row_id}": {
            "get": native("A registered message with its deliveries", [path_id("message_row_id")],
                          ok("the message", "Message"), codes=("404",)),
            "patch": native("Attach the provider message id", [path_id("message_row_id")],
                            ok("the message", "Message"), codes=("404", "409"), body="Attachment")},
        "/api/v1/stats": {"get": native(
            "Deliveries per send hour or day and status, provider, sending domain or outcome (only buckets "
            "with deliveries)", args(StatsQuery), ok("the series", "Stats"))},
        "/api/v1/reputation": {"get": native(
            "Bounce and complaint rates, thresholds and states, for the account and per sending domain",
            args(ReputationQuery), ok("the reputation", "Reputation"))},
        "/api/v1/suppressions": {"get": native("The suppression list", args(SuppressionQuery),
                                               ok("a page", page("Suppression")))},
        "/api/v1/suppressions/{address}": {
            "get": native("Is this address suppressed? (404: no)", [address], ok("the entry", "Suppression"),
                          codes=("404",)),
            "delete": native("Remove an address (audited)", [address], ok("removed", None, "204"),
                             codes=("403", "404"))},
        "/api/v1/webhooks": {
            "get": native("Webhook subscriptions", [], ok("subscriptions", listing("Subscription"))),
            "post": native("Subscribe a URL (the signing secret is answered once)", [],
                           ok("the subscription with its secret", "NewSubscription", "201"), body="Subscription")},
        "/api/v1/webhooks/{subscription_id}": {
            "get": native("A subscription", [path_id("subscription_id")], ok("it", "Subscription"), codes=("404",)),
            "patch": native("Change url, statuses or active", [path_id("subscription_id")], ok("it", "Subscription"),
                            codes=("404",), body="SubscriptionChange"),
            "delete": native("Remove a subscription", [path_id("subscription_id")], ok("gone", None, "204"),
                             codes=("403", "404"))},
        "/api/v1/webhooks/{subscription_id}/rotate-secret": {"post": native(
            "A new signing secret (answered once); the replaced one also signs for previous_secret_hours",
            [path_id("subscription_id")], ok("the subscription with its new secret", "NewSubscription"),
            codes=("404",), body="SecretRotation", body_required=False)},
        "/api/v1/webhooks/{subscription_id}/test": {"post": native(
            "Send a webhook.test event (409 while the subscription is disabled)", [path_id("subscription_id")],
            ok("queued", {"type": "object", "properties": {"status": {"type": "string", "enum": ["queued"]}}}, "202"),
            codes=("403", "404", "409"))},
        "/api/v1/webhooks/{subscription_id}/events": {"get": native(
            "The subscription's delivery log", [path_id("subscription_id"), *args(EventLogQuery)],
            ok("a page", page("WebhookEvent")), codes=("404",))},
        "/api/v1/admin/webhooks/{subscription_id}/replay": {"post": native(
            "Replay parked events (operator keys)", [path_id("subscription_id")], ok("the replayed ids", "Replayed"),
            codes=("403", "404"), body="WebhookReplay", body_required=False, **admin)},
        "/api/v1/admin/events": {"get": native("Inbox events (operator keys)", args(EventQuery),
                                               ok("a page", page("InboxEvent")), codes=("403",), **admin)},
        "/api/v1/admin/events/{event_id}": {"get": native(
            "An inbox event with its payload and deliveries", [path_id("event_id")], ok("the event", "InboxEventShown"),
            codes=("403", "404"), **admin)},
        "/api/v1/admin/events/{event_id}/replay": {"post": native(
            "Replay a failed event", [path_id("event_id")], ok("summary", "ReplaySummary"), codes=("403", "404"),
            **admin)},
        "/api/v1/admin/events/replay": {"post": native(
            "Replay failed events ({\"ids\": [...]} or {\"filter\": {...}, \"cursor\": ...})", [],
            ok("summary", "ReplaySummary"), body="Replay", **admin)},
        "/api/v1/admin/events/{event_id}/discard": {"post": native(
            "Discard a failed or pending event", [path_id("event_id")], ok("discarded ids", "Discarded"),
            codes=("404", "409"), body="DiscardReason", **admin)},
        "/api/v1/admin/events/discard": {"post": native(
            "Discard events ({\"ids\": [...], \"reason\": ...})", [], ok("discarded ids", "Discarded"),
            body="Discard", **admin)},
    }


def _native_components(spec: APISpec) -> None:
    from tracker.http.api.admin import (
        DiscardBody,
        DiscardOneBody,
        EventSchema as AdminEventSchema,
        FilterBody,
        ShownEventSchema,
    )
    from tracker.http.api.messages import MessageSchema, RegistrationSchema
    from tracker.http.api.schemas import DeliverySchema, EventSchema, SuppressionSchema
    from tracker.http.api.stats import ReputationSchema, StatsSchema
    from tracker.http.api.webhooks import (
        EventLogSchema,
        NewSubscriptionSchema,
        ReplayBody,
        RotationBody,
        SubscriptionSchema,
    )

    spec.components.schema("Error", {"type": "object", "required": ["error", "detail"], "additionalProperties": False,
                                     "properties": {"error": {"type": "string"}, "detail": {"type": "string"}}})
    for name, schema in {"Delivery": DeliverySchema, "DeliveryEvent": EventSchema, "Suppression": SuppressionSchema,
                         "InboxEvent": AdminEventSchema, "InboxEventShown": ShownEventSchema,
                         "Registration": RegistrationSchema, "Message": MessageSchema,
                         "Subscription": SubscriptionSchema, "NewSubscription": NewSubscriptionSchema,
                         "SubscriptionChange": SubscriptionSchema(partial=True), "WebhookEvent": EventLogSchema,
                         "ReplayFilter": FilterBody, "Discard": DiscardBody, "DiscardReason": DiscardOneBody,
                         "WebhookReplay": ReplayBody, "SecretRotation": RotationBody,
                         "Stats": StatsSchema, "Reputation": ReputationSchema}.items():
        spec.components.schema(name, schema=schema)
    ids = {"type": "array", "items": {"type": "integer"}}
    some_ids = {**ids, "minItems": 1, "maxItems": 1000}
    for name, schema in {
        "Acknowledgement": {"type": "object", "additionalProperties": False,
                            "properties": {"note": {"type": "string", "maxLength": 2000}}},
        "Attachment": {"type": "object", "required": ["message_id"], "additionalProperties": False,
                       "properties": {"message_id": {"type": "string", "minLength": 1, "maxLength": 300}}},
        "Replay": {"oneOf": [
            {"type": "object", "required": ["ids"], "additionalProperties": False, "properties": {"ids": some_ids}},
            {"type": "object", "required": ["filter"], "additionalProperties": False, "properties": {
                "filter": ref("ReplayFilter"), "cursor": {"type": "string", "format": "id-cursor"}}}]},
        "Replayed": {"type": "object", "required": ["replayed"], "properties": {"replayed": ids}},
        "Discarded": {"type": "object", "required": ["discarded"], "properties": {"discarded": ids}},
        "ReplaySummary": {"type": "object", "required": ["replayed", "processed", "still_failing"], "properties": {
            "replayed": {"type": "integer"}, "processed": {"type": "integer"}, "still_failing": {"type": "integer"},
            "next_cursor": {"type": "string", "nullable": True}}},
    }.items():
        spec.components.schema(name, schema)


def _no_unreadable_characters(document: dict) -> dict:
    """Say in the document what tracker.http.input_guard refuses: control characters in parameters
    (path and query) and NUL in any string of a body. Strings with a pattern, enum or format
    say more already."""
    def constrain(schema, pattern: str) -> None:
        if isinstance(schema, dict):
            if schema.get("type") == "string" and not {"pattern", "enum", "format"} & set(schema):
                schema["pattern"] = pattern
            for value in schema.values():
                constrain(value, pattern)
        elif isinstance(schema, list):
            for value in schema:
                constrain(value, pattern)

    for operations in document["paths"].values():
        for found in operations.values():
            for parameter in found.get("parameters", []):
                constrain(parameter["schema"], "^[^\\u0000-\\u001f\\u007f]*$")
    constrain(document["components"]["schemas"], "^[^\\u0000]*$")
    return document


def _request_id_on_every_answer(document: dict) -> dict:
    """Declare X-Request-Id (tracker.http.request_ids) once, on every answer the app gives: every
    response of every operation but 414 and 431, which gunicorn answers before the app."""
    header = {"$ref": "#/components/headers/RequestId"}
    for operations in document["paths"].values():
        for found in operations.values():
            for status, response in found["responses"].items():
                if status not in GUNICORN_ANSWERS:
                    response.setdefault("headers", {})["X-Request-Id"] = header
    return document


@functools.cache
def document() -> dict:
    from tracker.http.api import openapi_compat
    from tracker.http.api.schemas import Cursor, IdCursor

    plugin = MarshmallowPlugin()
    spec = APISpec(title="Email delivery status tracker", version="1.0.0", openapi_version="3.0.3",
                   plugins=[plugin],
                   info={"description": "Native API (/api/v1) and drop-in compatible status APIs "
                                        "(Elevate, Infobip, SendCloud, Postman)."})
    # Opaque: a next_cursor this API answered (keyset positions), nothing a client composes.
    plugin.map_to_openapi_type(Cursor, "string", "cursor")
    plugin.map_to_openapi_type(IdCursor, "string", "id-cursor")
    for name, scheme in {
        "bearer": {"type": "http", "scheme": "bearer", "description": "an API key, or a JWT signed with one"},
        "infobip": {"type": "apiKey", "in": "header", "name": "Authorization",
                    "description": "App <key>, Basic base64(user:key) or Bearer <key or JWT>"},
        "sendcloud": {"type": "apiKey", "in": "query", "name": "apiKey"},
    }.items():
        spec.components.security_scheme(name, scheme)
    spec.components.header("RequestId", {
        "description": "this request's id: the caller's X-Request-Id when it is a short token of safe characters, "
                       "else a new one; the log lines and the inbox row the request wrote carry it",
        "required": True, "schema": {"type": "string", "pattern": f"^[A-Za-z0-9._:-]{{1,{REQUEST_ID_LENGTH}}}$"}})
    _native_components(spec)
    openapi_compat.components(spec)
    for path, operations in {**_native_paths(), **openapi_compat.paths()}.items():
        spec.path(path=path, operations=operations)
    return _request_id_on_every_answer(_no_unreadable_characters(spec.to_dict()))


@blueprint.get("/api/v1/openapi.json")
def openapi_json():
    return jsonify(document())
