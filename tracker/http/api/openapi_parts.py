"""The pieces every OpenAPI path is built from (references, parameters, responses, each style's errors).

Shared by the native document (tracker.http.api.openapi) and the compatible APIs' paths
(tracker.http.api.openapi_compat), which both import it, so neither imports the other.
"""
from __future__ import annotations

JSON = "application/json"

# Each API style's error schema (components below and in openapi_compat).
ERROR_SCHEMAS = {"native": "Error", "elevate": "Error", "infobip": "InfobipError", "infobip4": "InfobipApiError",
                 "sendcloud": "SendCloudResponse", "postman": "PostmanError"}
REASONS = {"400": "invalid request", "401": "no valid credentials", "403": "the key may not do this",
           "404": "not found in the caller's account", "409": "conflicts with the current state",
           "413": "body past the size bound", "414": "request line too long (answered by the server)",
           "429": "rate limited (Retry-After)", "431": "headers too large (answered by the server)",
           "503": "the database is away; retry (Retry-After)"}


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def query(name: str, description: str, schema: dict | None = None, required: bool = False) -> dict:
    return {"in": "query", "name": name, "description": description, "required": required,
            "schema": schema or {"type": "string"}}


def path_id(name: str) -> dict:
    return {"in": "path", "name": name, "required": True, "schema": {"type": "integer", "minimum": 0}}


def ok(description: str, schema: dict | str | None, status: str = "200", xml: bool = False) -> dict:
    if schema is None:
        return {status: {"description": description}}
    content = {JSON: {"schema": ref(schema) if isinstance(schema, str) else schema}}
    if xml:
        content["application/xml"] = {"schema": {"type": "string"}}
    return {status: {"description": description, "content": content}}


def errors(style: str, *codes: str, xml: bool = False) -> dict:
    """The error responses ``codes`` in ``style``'s shape, plus what any operation may answer."""
    responses = {}
    for code in (*codes, "503"):
        responses[code] = {"description": REASONS[code], "content": {JSON: {"schema": ref(ERROR_SCHEMAS[style])}}}
        if xml:
            responses[code]["content"]["application/xml"] = {"schema": {"type": "string"}}
    for code in ("414", "431"):  # gunicorn's, before any API style is known: the native shape
        responses[code] = {"description": REASONS[code], "content": {JSON: {"schema": ref("Error")}}}
    return responses


def operation(summary: str, parameters: list, responses: dict, *, tag: str = "native", security: str = "bearer",
              body: dict | str | None = None, body_required: bool = True) -> dict:
    found = {"summary": summary, "tags": [tag], "parameters": parameters, "responses": responses,
             "security": [{security: []}]}
    if body is not None:
        found["requestBody"] = {"required": body_required,
                                "content": {JSON: {"schema": ref(body) if isinstance(body, str) else body}}}
    return found
