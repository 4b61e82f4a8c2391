"""GET /api/v1/openapi.json: the OpenAPI 3 document of the native and compatible read APIs.

apispec renders the marshmallow schemas the views really use; the paths below say which
parameters each route takes. tests/integration/test_openapi.py validates the document
and checks that every API route of the app appears in it.
"""
from __future__ import annotations

import functools

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, jsonify

blueprint = Blueprint("openapi", __name__)

JSON = "application/json"


def _query(name: str, description: str, schema: dict | None = None, required: bool = False) -> dict:
    return {"in": "query", "name": name, "description": description, "required": required,
            "schema": schema or {"type": "string"}}


def _path(name: str, description: str = "") -> dict:
    return {"in": "path", "name": name, "required": True, "description": description, "schema": {"type": "integer"}}


def _ok(description: str, schema: dict | str | None = None, status: str = "200", xml: bool = False) -> dict:
    schema = {"$ref": f"#/components/schemas/{schema}"} if isinstance(schema, str) else (schema or {"type": "object"})
    content = {JSON: {"schema": schema}}
    if xml:
        content["application/xml"] = {"schema": {"type": "string"}}
    return {status: {"description": description, "content": content}}


ERRORS = {code: {"description": text, "content": {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}}}
          for code, text in (("400", "invalid request"), ("401", "no valid credentials"),
                             ("404", "not found in the caller's account"), ("429", "rate limited"))}
KEYSET = [_query("limit", "page size (1-1000, default 100)", {"type": "integer", "minimum": 1, "maximum": 1000}),
          _query("cursor", "next_cursor of the previous page")]


def _operation(summary: str, parameters: list, responses: dict, security: str = "bearer", body: str | None = None,
               tag: str = "native") -> dict:
    operation = {"summary": summary, "tags": [tag], "parameters": parameters,
                 "responses": {**responses, **ERRORS}, "security": [{security: []}]}
    if body:
        operation["requestBody"] = {"required": True,
                                    "content": {JSON: {"schema": {"$ref": f"#/components/schemas/{body}"}}}}
    return operation


@functools.cache
def document() -> dict:
    from tracker.api.admin import EventSchema as AdminEventSchema
    from tracker.api.messages import MessageSchema, RegistrationSchema
    from tracker.api.schemas import DeliverySchema, EventSchema, SuppressionSchema
    from tracker.api.webhooks import EventLogSchema, SubscriptionSchema

    spec = APISpec(title="Email delivery status tracker", version="1.0.0", openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin()],
                   info={"description": "Native API (/api/v1) and drop-in compatible status APIs "
                                        "(Elevate, Infobip, SendCloud, Postman)."})
    for name, scheme in {
        "bearer": {"type": "http", "scheme": "bearer", "description": "an API key, or a JWT signed with one"},
        "infobip": {"type": "apiKey", "in": "header", "name": "Authorization",
                    "description": "App <key>, Basic base64(user:key) or Bearer <key or JWT>"},
        "sendcloud": {"type": "apiKey", "in": "query", "name": "apiKey"},
    }.items():
        spec.components.security_scheme(name, scheme)
    spec.components.schema("Error", {"type": "object", "properties": {"error": {"type": "string"},
                                                                       "detail": {"type": "string"}}})
    for name, schema in {"Delivery": DeliverySchema, "DeliveryEvent": EventSchema, "Suppression": SuppressionSchema,
                         "InboxEvent": AdminEventSchema, "Registration": RegistrationSchema,
                         "Message": MessageSchema, "Subscription": SubscriptionSchema,
                         "WebhookEvent": EventLogSchema}.items():
        spec.components.schema(name, schema=schema)

    def page(item: str) -> dict:
        return {"type": "object", "properties": {"data": {"type": "array", "items": {"$ref": f"#/components/schemas/{item}"}},
                                                 "next_cursor": {"type": "string", "nullable": True}}}

    paths = {
        "/api/v1/deliveries": {"get": _operation("List deliveries (keyset pages, oldest change first)", [
            _query("message_id", "provider message id"), _query("recipient", "email address"),
            _query("status", "canonical status"), _query("updated_after", "ISO 8601"),
            _query("updated_before", "ISO 8601"), *KEYSET], _ok("a page of deliveries", page("Delivery")))},
        "/api/v1/deliveries/{delivery_id}/events": {"get": _operation(
            "A delivery's history, oldest first", [_path("delivery_id")],
            _ok("events", {"type": "object", "properties": {"data": {"type": "array", "items": {
                "$ref": "#/components/schemas/DeliveryEvent"}}}}))},
        "/api/v1/deliveries/{delivery_id}/acknowledge": {"post": _operation(
            "Acknowledge a failed delivery (409 unless ERROR, BOUNCED or COMPLAINT)", [_path("delivery_id")],
            _ok("the delivery, now ACKNOWLEDGED", "Delivery"))},
        "/api/v1/messages": {"post": _operation("Register a message (or {\"messages\": [...]})", [],
                                                _ok("the message and its deliveries", "Message", "201"),
                                                body="Registration")},
        "/api/v1/messages/{message_row_id}": {
            "get": _operation("A registered message with its deliveries", [_path("message_row_id")],
                              _ok("the message", "Message")),
            "patch": _operation("Attach the provider message id", [_path("message_row_id")],
                                _ok("the message", "Message"))},
        "/api/v1/suppressions": {"get": _operation("The suppression list", [
            _query("reason", "hard_bounce, complaint, unsubscribe or soft_bounces"), *KEYSET],
            _ok("a page", page("Suppression")))},
        "/api/v1/suppressions/{address}": {
            "get": _operation("Is this address suppressed? (404: no)", [{**_path("address"), "schema": {"type": "string"}}],
                              _ok("the entry", "Suppression")),
            "delete": _operation("Remove an address (audited)", [{**_path("address"), "schema": {"type": "string"}}],
                                 {"204": {"description": "removed"}})},
        "/api/v1/webhooks": {
            "get": _operation("Webhook subscriptions", [], _ok("subscriptions")),
            "post": _operation("Subscribe a URL (the signing secret is answered once)", [],
                               _ok("the subscription with its secret", "Subscription", "201"), body="Subscription")},
        "/api/v1/webhooks/{subscription_id}": {
            "get": _operation("A subscription", [_path("subscription_id")], _ok("it", "Subscription")),
            "patch": _operation("Change url, statuses or active", [_path("subscription_id")], _ok("it", "Subscription")),
            "delete": _operation("Remove a subscription", [_path("subscription_id")], {"204": {"description": "gone"}})},
        "/api/v1/webhooks/{subscription_id}/test": {"post": _operation(
            "Send a webhook.test event", [_path("subscription_id")], {"202": {"description": "queued"}})},
        "/api/v1/webhooks/{subscription_id}/events": {"get": _operation(
            "The subscription's delivery log", [_path("subscription_id"), _query("state", "pending|sending|delivered|parked"),
                                               *KEYSET], _ok("a page", page("WebhookEvent")))},
        "/api/v1/admin/webhooks/{subscription_id}/replay": {"post": _operation(
            "Replay parked events (operator keys)", [_path("subscription_id")], _ok("the replayed ids"), tag="admin")},
        "/api/v1/admin/events": {"get": _operation("Inbox events (operator keys)", [
            _query("state", "pending|processed|failed|replayed|discarded (default failed)"), _query("provider", "provider"),
            _query("since", "ISO 8601"), _query("error_contains", "text"), *KEYSET],
            _ok("a page", page("InboxEvent")), tag="admin")},
        "/api/v1/admin/events/{event_id}": {"get": _operation(
            "An inbox event with its payload and deliveries", [_path("event_id")], _ok("the event"), tag="admin")},
        "/api/v1/admin/events/{event_id}/replay": {"post": _operation(
            "Replay a failed event", [_path("event_id")], _ok("summary"), tag="admin")},
        "/api/v1/admin/events/replay": {"post": _operation(
            "Replay failed events ({\"ids\": [...]} or {\"filter\": {...}, \"cursor\": ...})", [], _ok("summary"), tag="admin")},
        "/api/v1/admin/events/{event_id}/discard": {"post": _operation(
            "Discard a failed event ({\"reason\": ...})", [_path("event_id")], _ok("discarded ids"), tag="admin")},
        "/api/v1/admin/events/discard": {"post": _operation(
            "Discard events ({\"ids\": [...], \"reason\": ...})", [], _ok("discarded ids"), tag="admin")},
        "/v1/email-status": {"get": _operation("Elevate email status (seed 000)", [
            _query("page", "1-based", {"type": "integer"}), _query("pageSize", "1-1000", {"type": "integer"}),
            _query("sort", "fields, each with an optional :desc"), _query("fields", "subset of item fields"),
            _query("createdDateTime", "T | lt:T | gt:T"), _query("updatedDateTime", "T | lt:T | gt:T"),
            _query("status", "SENT DELIVERED BOUNCED COMPLAINT ERROR ACKNOWLEDGED RETRY"),
            _query("bounceType", "PERMANENT TRANSIENT UNDETERMINED"), _query("billRunType", ""),
            _query("billRunId", "")], _ok("email statuses", {"type": "array", "items": {"type": "object"}}),
            tag="elevate")},
        "/email/1/logs": {"get": _operation("Infobip email logs (seed 001)", [
            _query(name, name) for name in ("messageId", "from", "to", "bulkId", "campaignReferenceId",
                                            "generalStatus", "sentSince", "sentUntil", "limit", "applicationId",
                                            "entityId")], _ok("{results: [...]}"), security="infobip", tag="infobip")},
        "/email/1/reports": {"get": _operation("Infobip delivery reports, each returned once (seed 002)", [
            _query("bulkId", ""), _query("messageId", ""), _query("limit", "", {"type": "integer"})],
            _ok("{results: [...]}", xml=True), security="infobip", tag="infobip")},
        "/apiv2/data/emailStatus": {method: _operation("SendCloud email status (seed 003)", [
            _query(name, name, required=name in ("apiUser", "apiKey")) for name in (
                "apiUser", "apiKey", "email", "emailIds", "labelId", "labelName", "days", "startDate", "endDate",
                "apiUserList", "start", "limit", "status", "subStatus")],
            _ok("{result, statusCode, message, info: {total, voListSize, voList}}"), security="sendcloud",
            tag="sendcloud") for method in ("get", "post")},
        "/v1/transactional/email": {"get": _operation("Postman transactional emails (seed 004)", [
            _query("limit", "1-1000, default 10", {"type": "integer"}), _query("offset", "", {"type": "integer"}),
            _query("status", "one or several"), _query("created_at[gt]", ""), _query("created_at[gte]", ""),
            _query("created_at[lt]", ""), _query("created_at[lte]", ""), _query("sort_by", "+/-created_at|updated_at"),
            _query("exclude_params", "true to leave params out", {"type": "boolean"})],
            _ok("{has_more, data}"), tag="postman")},
        "/v1/transactional/email/{email_id}": {"get": _operation(
            "One Postman transactional email", [_path("email_id")], _ok("the email"), tag="postman")},
    }
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


@blueprint.get("/api/v1/openapi.json")
def openapi_json():
    return jsonify(document())
