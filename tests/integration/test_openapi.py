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


def test_every_answer_of_the_app_declares_its_request_id(app):
    document = app.test_client().get("/api/v1/openapi.json").json
    header = document["components"]["headers"]["RequestId"]
    assert header["required"] is True
    pattern = re.compile(header["schema"]["pattern"])
    without = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                declared = "X-Request-Id" in response.get("headers", {})
                if declared == (status in ("414", "431")):  # gunicorn's own answers carry none
                    without.append(f"{method.upper()} {path} {status}")
    assert without == []
    # What the app answers fits the declaration, an id it made as well as one it echoed.
    for sent, echoed in (("abc-1", True), ("no good", False)):
        answered = app.test_client().get("/api/v1/deliveries", headers={"X-Request-Id": sent}).headers["X-Request-Id"]
        assert pattern.fullmatch(answered) and (answered == sent) is echoed
