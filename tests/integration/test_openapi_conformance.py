"""The OpenAPI document is the truth: schemathesis generates requests from it, bounded, for every operation.

Each operation gets requests that follow the document (they must be served: 2xx, or a
documented 401/403/404/409/429) and requests that break it (they must be refused with a 4xx),
and every answer must match the document: its status documented, its body the documented
schema in the documented content type, 405 with an Allow header for an undeclared method,
never a 5xx. Real PostgreSQL, the app in-process (the WSGI transport); gunicorn's own
answers are tested in test_gunicorn_errors.py.

Two checks are switched off where the API's contract makes them inapplicable, and only there:
- SendCloud answers every parameter error with HTTP 200 and ``result: false``, as SendCloud
  does (seed 003), so "schema-violating requests are refused with a 4xx" cannot hold;
- some rules span parameters or array items, which OpenAPI 3.0 cannot state, so a request
  valid by the schema may be refused there: Elevate serves (page - 1) * pageSize past
  10,000 only after the pages before it were read; Infobip's logs refuse a sentSince after
  sentUntil (and a ``to`` that is not an address); Postman's sort_by names each field once.
Generated strings hold no NUL: the document says strings cannot (a pattern on each), but
OpenAPI 3.0 has no way to say it of the keys of free-form objects (a message's params, tags),
which are refused all the same; test_api_malformed_input.py and test_api_fuzz.py send NULs
everywhere. Webhook URLs are replaced by an allowed one: whether a URL is accepted depends on where its
host resolves (the SSRF guard), which no schema can say.
"""
from __future__ import annotations

import json
import os
from datetime import UTC

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.support.harness import FIXTURES, drain
from tests.support.sns_signing import notification
from tracker.http.api.openapi import document
from tracker.http.api.schemas import Cursor, IdCursor

# Per operation and generation mode: about 2,400 requests, half a minute of CPU. A bigger run:
# TRACKER_OPENAPI_EXAMPLES=150 (about 6,800 requests; it passes too).
EXAMPLES = int(os.environ.get("TRACKER_OPENAPI_EXAMPLES", "20"))
WEBHOOK_URL = "http://127.0.0.1:9/hook"  # allowed below (loopback port 9, plain http); never reached

schema = schemathesis.openapi.from_dict(document(), config=schemathesis.Config.from_dict({
    "generation": {"allow-extra-parameters": False, "allow-x00": False, "deterministic": True, "database": "none"},
    "operations": [
        {"include-path": "/apiv2/data/emailStatus", "checks": {"negative_data_rejection": {"enabled": False}}},
        {"include-path": ["/v1/email-status", "/email/1/logs", "/v1/transactional/email"],
         "checks": {"positive_data_acceptance": {"enabled": False}}},
    ],
}))

# Cursors are opaque positions the API hands out; any position is a valid one.
schemathesis.openapi.format("cursor", st.builds(
    lambda moment, last_id: Cursor()._serialize((moment, last_id), None, None),
    st.datetimes(timezones=st.just(UTC)), st.integers(0, 2 ** 63 - 1)))
schemathesis.openapi.format("id-cursor", st.builds(lambda last_id: IdCursor()._serialize(last_id, None, None),
                                                   st.integers(0, 2 ** 63 - 1)))


@pytest.fixture
def served(make_app, pki):
    """An account with an operator key, deliveries of several statuses, a registered message and a subscription."""
    from tests.support.harness import make_tenant
    from tracker.db import repository
    from tracker.db.models import Account

    app = make_app(webhook_allow_http=True, webhook_allowed_networks="127.0.0.0/8:9")
    tenant = make_tenant(app, "acme", ["*"])
    client = app.test_client()
    for name in ("notification/bounce-permanent.json", "notification/delivery.json"):
        message = json.loads((FIXTURES / "ses" / name).read_text())
        assert client.post(tenant.hook, data=json.dumps(pki.sign(notification(message)))).status_code == 200
    drain(app)
    services = app.extensions["tracker"]
    with services.db.transaction() as session:
        key = repository.create_api_key(session, session.get(Account, tenant.account_id), role="operator",
                                        secret_key=services.config.secret_key)
    auth = {"Authorization": f"Bearer {key}"}
    assert client.post("/api/v1/messages", headers=auth,
                       json={"recipients": ["pending@example.com"]}).status_code == 201
    assert client.post("/api/v1/webhooks", headers=auth, json={"url": WEBHOOK_URL}).status_code == 201
    return app, key


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_answer_matches_the_document(case, served):
    app, key = served
    if isinstance(case.query, dict) and isinstance(case.query.get("apiKey"), str):
        case.query["apiKey"] = key  # SendCloud's credentials are a parameter
    url = case.body.get("url") if isinstance(case.body, dict) else None
    if isinstance(url, str) and 1 <= len(url) <= 2000 and "\x00" not in url:  # as the document allows
        case.body["url"] = WEBHOOK_URL
    case.operation.schema.app = app  # checks that send a request again (without credentials...) reach it too
    case.call_and_validate(app=app, headers={"Authorization": f"Bearer {key}"})
