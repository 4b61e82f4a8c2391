"""The OpenAPI document: valid OpenAPI 3, and every API route of the app is in it."""
from __future__ import annotations

import re

from openapi_spec_validator import validate


def test_the_document_is_valid_openapi_3(app):
    response = app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    validate(response.json)


def test_every_api_route_is_documented_with_its_methods(app):
    document = app.test_client().get("/api/v1/openapi.json").json
    documented = {(path, method.upper()) for path, operations in document["paths"].items() for method in operations}
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(("/api/", "/v1/", "/email/", "/apiv2/")) or rule.rule == "/api/v1/openapi.json":
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if (path, method) not in documented:
                missing.append(f"{method} {path}")
    assert missing == []
