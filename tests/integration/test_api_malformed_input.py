"""Issue 10, finding 4 (API half): NUL and control characters, out-of-range values and forged
JWTs get a 4xx in each API style's own error shape, never a 5xx."""
from __future__ import annotations

import pytest

from tests.support import api_styles
from tests.support.harness import make_tenant

SENDCLOUD = "/apiv2/data/emailStatus?apiUser=u&days=1&apiKey={key}"

# (style, URL, credentials) for a parameter holding a NUL: the 13 of 15 that answered 500, and more.
NUL_PARAMETERS = [
    ("native", "/api/v1/deliveries?message_id=a%00b", api_styles.bearer),
    ("native", "/api/v1/deliveries?recipient=a%00b@example.com", api_styles.bearer),
    ("native", "/api/v1/suppressions/a%00b@example.com", api_styles.bearer),
    ("native", "/api/v1/admin/events?provider=ses%00", "operator"),
    ("native", "/api/v1/admin/events?error_contains=%00", "operator"),
    ("elevate", "/v1/email-status?billRunType=NORMAL%00", api_styles.elevate_jwt),
    ("elevate", "/v1/email-status?billRunId=1%00", api_styles.elevate_jwt),
    ("infobip", "/email/1/logs?messageId=a%00", api_styles.app_key),
    ("infobip", "/email/1/logs?bulkId=a%00", api_styles.basic),
    ("infobip", "/email/1/logs?from=a%00@example.com", api_styles.bearer),
    ("infobip", "/email/1/reports?messageId=a%00", api_styles.app_key),
    ("infobip", "/email/1/reports?bulkId=a%00", api_styles.app_key),
    ("sendcloud", SENDCLOUD + "&labelId=a%00", None),
    ("sendcloud", SENDCLOUD + "&labelName=a%00", None),
    ("sendcloud", SENDCLOUD + "&emailIds=a%00", None),
    ("sendcloud", SENDCLOUD + "&email=a%00@example.com", None),
    ("postman", "/v1/transactional/email?tag=a%00", api_styles.bearer),
    ("postman", "/v1/transactional/email?status=SENT%01", api_styles.bearer),
]


@pytest.fixture
def operator_key(app, tenant):
    from tracker.db import repository
    from tracker.db.models import Account

    services = app.extensions["tracker"]
    with services.db.transaction() as session:
        return repository.create_api_key(session, session.get(Account, tenant.account_id), role="operator",
                                         secret_key=services.config.secret_key)


def credentials(auth, tenant, operator_key) -> dict:
    if auth is None:
        return {}
    if auth == "operator":
        return api_styles.bearer(operator_key)
    return auth(tenant.key)


@pytest.mark.parametrize("style, url, auth", NUL_PARAMETERS, ids=[url for _, url, _ in NUL_PARAMETERS])
def test_a_nul_in_a_parameter_is_refused_in_the_style_s_shape(app, tenant, operator_key, style, url, auth):
    response = app.test_client().get(url.format(key=tenant.key), headers=credentials(auth, tenant, operator_key))
    assert response.status_code < 500
    assert api_styles.is_error(style, response), response.get_data(as_text=True)


STYLE_PATHS = [("native", "/api/v1/deliveries"), ("elevate", "/v1/email-status"), ("infobip", "/email/1/logs"),
               ("postman", "/v1/transactional/email")]


@pytest.mark.parametrize("style, path", STYLE_PATHS)
def test_a_jwt_whose_kid_holds_a_nul_is_refused_without_credentials(app, tenant, style, path):
    response = app.test_client().get(
        path, headers=api_styles.elevate_jwt("not-a-key-of-anyone-long-enough-for-hs256", kid="a\x00b"))
    assert response.status_code == 401
    assert api_styles.is_error(style, response)


@pytest.mark.parametrize("style, path", STYLE_PATHS)
@pytest.mark.parametrize("header", ["Bearer trk_0123456789abcdef_\x00", "App \x00", "Bearer \x01"])
def test_control_characters_in_credentials_are_refused(app, tenant, style, path, header):
    response = app.test_client().get(path, headers={"Authorization": header})
    assert 400 <= response.status_code < 500
    assert api_styles.is_error(style, response)


def test_a_malformed_key_in_basic_or_sendcloud_credentials_is_refused(app, tenant):
    client = app.test_client()
    for bad in (tenant.key + "\x00", tenant.key[:8] + "\x00" + tenant.key[9:], "trk_zzzzzzzzzzzzzzzz_secret"):
        assert client.get("/email/1/logs", headers=api_styles.basic(bad)).status_code == 401
        response = client.get("/apiv2/data/emailStatus", query_string={"apiUser": "u", "apiKey": bad, "days": "1"})
        assert api_styles.is_error("sendcloud", response)


# Times that exist in their own zone but not in UTC's years 1-9999 (held at the calendar's
# edge: nothing is stored out there), and the very last moment.
@pytest.mark.parametrize("style, path, parameter", [
    ("native", "/api/v1/deliveries", "updated_after"),
    ("elevate", "/v1/email-status", "createdDateTime"),
    ("infobip", "/email/1/logs", "sentUntil"),
    ("postman", "/v1/transactional/email", "created_at[gt]"),
])
def test_times_past_the_calendar_s_ends_are_served(app, tenant, style, path, parameter):
    auth = api_styles.elevate_jwt(tenant.key) if style == "elevate" else api_styles.bearer(tenant.key)
    client = app.test_client()
    for value in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "9999-12-31T23:59:59Z"):
        assert client.get(path, query_string={parameter: value}, headers=auth).status_code == 200, value


@pytest.mark.parametrize("body, problem", [
    ('{"recipients": ["a@example.com"], "subject": "a\\u0000b"}', "NUL"),
    ('{"recipients": ["a@example.com"], "params": {"k\\u0000": 1}}', "NUL"),
    ('{"recipients": ["a@example.com"], "subject": "\\ud800"}', "surrogate"),
    ('{"recipients": ["a@example.com"], "params": {"x": NaN}}', "NaN"),
    ('{"recipients": ["a@example.com"], "params": ' + "[" * 20_000 + "]" * 20_000 + "}", "nested"),
    ('{"recipients": ["a@example.com"], "billRunId": 1' + "0" * 5000 + "}", "not JSON"),
], ids=["nul-in-a-string", "nul-in-a-key", "lone-surrogate", "nan", "nested-20000-deep", "5000-digit-number"])
def test_json_bodies_postgresql_cannot_store_are_refused_with_the_reason(app, tenant, body, problem):
    response = app.test_client().post("/api/v1/messages", data=body, headers={
        **api_styles.bearer(tenant.key), "Content-Type": "application/json"})
    assert response.status_code == 400 and api_styles.is_error("native", response)
    assert problem in response.json["detail"]


def test_a_subject_may_hold_other_control_characters(app, tenant):
    response = app.test_client().post("/api/v1/messages", headers=api_styles.bearer(tenant.key), json={
        "recipients": ["a@example.com"], "subject": "line one\nline two\ttabbed"})
    assert response.status_code == 201 and response.json["subject"] == "line one\nline two\ttabbed"


def test_an_account_s_nul_does_not_reach_another_account(app, tenant):
    other = make_tenant(app, "other", ["*"])
    client = app.test_client()
    assert client.get("/api/v1/deliveries?message_id=%00", headers=api_styles.bearer(tenant.key)).status_code == 400
    assert client.get("/api/v1/deliveries", headers=api_styles.bearer(other.key)).status_code == 200


@pytest.mark.parametrize("style, path", [*STYLE_PATHS, ("sendcloud", "/apiv2/data/emailStatus"),
                                         ("native", "/api/v1/admin/events"), ("infobip", "/email/1/reports")])
def test_a_method_a_path_does_not_serve_is_a_405_with_allow_in_the_style_s_shape(app, tenant, style, path):
    response = app.test_client().delete(path, headers=api_styles.bearer(tenant.key))
    assert response.status_code == 405
    assert "GET" in {method.strip() for method in response.headers["Allow"].split(",")}
    assert api_styles.is_error(style, response)


@pytest.mark.parametrize("style, url", [("native", "/api/v1/deliveries?limit=1&limit=2"),
                                        ("native", "/api/v1/admin/events?state=failed&state=pending"),
                                        ("postman", "/v1/transactional/email?offset=1&offset=2")])
def test_a_parameter_given_twice_is_refused_not_half_read(app, tenant, operator_key, style, url):
    response = app.test_client().get(url, headers=api_styles.bearer(operator_key))
    assert response.status_code == 400 and api_styles.is_error(style, response)
