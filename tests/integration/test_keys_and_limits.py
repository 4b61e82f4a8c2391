"""Keys: several per account, revocable everywhere at once, read-only or operator; rate limits per style."""
from __future__ import annotations

from tests.support.harness import make_tenant
from tracker.db import repository
from tracker.db.models import Account


def new_key(app, tenant, role="application") -> str:
    with app.extensions["tracker"].db.transaction() as session:
        return repository.create_api_key(session, session.get(Account, tenant.account_id), role=role,
                                         secret_key=app.extensions["tracker"].config.secret_key)


def test_several_keys_per_account_and_revocation_shuts_every_style(app, tenant):
    import jwt

    second = new_key(app, tenant)
    key_id = second.split("_")[1]
    styles = {
        "native": ("/api/v1/deliveries", {"Authorization": f"Bearer {second}"}),
        "elevate-jwt": ("/v1/email-status", {"Authorization": "Bearer " + jwt.encode(
            {}, second, algorithm="HS256", headers={"kid": key_id})}),
        "elevate-key": ("/v1/email-status", {"Authorization": f"Bearer {second}"}),
    }
    for name, (path, headers) in styles.items():
        assert app.test_client().get(path, headers=headers).status_code == 200, name
    with app.extensions["tracker"].db.transaction() as session:
        assert repository.revoke_key(session, key_id)
    for name, (path, headers) in styles.items():
        assert app.test_client().get(path, headers=headers).status_code == 401, name
    assert app.test_client().get("/api/v1/deliveries", headers=tenant.auth).status_code == 200  # the other key lives


def test_a_read_only_key_reads_but_never_writes(app, tenant):
    reader = {"Authorization": f"Bearer {new_key(app, tenant, role='read-only')}"}
    client = app.test_client()
    assert client.get("/api/v1/deliveries", headers=reader).status_code == 200
    for path, body in (("/api/v1/messages", {"recipients": ["a@example.com"]}),
                       ("/api/v1/webhooks", {"url": "https://example.com/h"})):
        response = client.post(path, json=body, headers=reader)
        assert response.status_code == 403 and "read-only" in response.json["detail"]
    assert client.get("/api/v1/admin/events", headers=reader).status_code == 403


def test_native_rate_limit_answers_429_with_retry_after(make_app):
    app = make_app(rate_limits="native=2")
    tenant = make_tenant(app, "acme", ["*"])
    other = make_tenant(app, "other", ["*"])
    statuses = [app.test_client().get("/api/v1/deliveries", headers=tenant.auth).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    limited = app.test_client().get("/api/v1/deliveries", headers=tenant.auth)
    assert limited.json["error"] == "too_many_requests" and int(limited.headers["Retry-After"]) >= 1
    assert app.test_client().get("/api/v1/deliveries", headers=other.auth).status_code == 200  # per account


def test_the_rate_limit_is_shared_through_redis_by_every_process(make_app, redis_url):
    # Two apps stand for two web processes: the window's count lives in Redis, not in either.
    first = make_app(rate_limits="native=3", broker_url=redis_url)
    second = make_app(rate_limits="native=3", broker_url=redis_url)
    tenant = make_tenant(first, "acme", ["*"])
    statuses = [app.test_client().get("/api/v1/deliveries", headers=tenant.auth).status_code
                for app in (first, second, first, second)]
    assert statuses == [200, 200, 200, 429]


def _two_processes(make_app, redis_url, rate_limits: str):
    """Two apps on one Redis (two web processes): the first has its keys cached after one request."""
    first = make_app(broker_url=redis_url, rate_limits=rate_limits)
    second = make_app(broker_url=redis_url, rate_limits=rate_limits)
    return first, second


def _revoke_in(app, key: str) -> None:
    with app.extensions["tracker"].db.transaction() as session:
        assert repository.revoke_key(session, key.split("_")[1])


def test_a_key_cached_in_one_process_is_refused_there_once_another_revoked_it(make_app, redis_url):
    # The cached key is used before the revocation counter is read (with the rate limit, in one
    # round trip); the request after the revocation still finds it revoked, in every API style.
    first, second = _two_processes(make_app, redis_url, "native=1000,elevate=1000")
    tenant = make_tenant(first, "acme", ["*"])
    key = new_key(first, tenant)
    bearer = {"Authorization": f"Bearer {key}"}
    for path in ("/api/v1/deliveries", "/v1/email-status"):
        assert first.test_client().get(path, headers=bearer).status_code == 200
    _revoke_in(second, key)
    for path in ("/api/v1/deliveries", "/v1/email-status"):
        assert first.test_client().get(path, headers=bearer).status_code == 401, path
    assert first.test_client().get("/api/v1/deliveries", headers=tenant.auth).status_code == 200


def test_a_revocation_reaches_a_cache_whose_style_has_no_rate_limit(make_app, redis_url):
    first, second = _two_processes(make_app, redis_url, "native=0")  # unlimited: no count to share a trip with
    tenant = make_tenant(first, "acme", ["*"])
    key = new_key(first, tenant)
    bearer = {"Authorization": f"Bearer {key}"}
    assert first.test_client().get("/api/v1/deliveries", headers=bearer).status_code == 200
    _revoke_in(second, key)
    assert first.test_client().get("/api/v1/deliveries", headers=bearer).status_code == 401


def test_a_revoked_read_only_key_that_tries_to_write_is_told_it_is_revoked(make_app, redis_url):
    first, second = _two_processes(make_app, redis_url, "native=1000")
    tenant = make_tenant(first, "acme", ["*"])
    key = new_key(first, tenant, role="read-only")
    reader = {"Authorization": f"Bearer {key}"}
    assert first.test_client().get("/api/v1/deliveries", headers=reader).status_code == 200
    _revoke_in(second, key)
    response = first.test_client().post("/api/v1/webhooks", json={"url": "https://example.com/h"}, headers=reader)
    assert response.status_code == 401


def test_a_wrong_secret_for_a_cached_key_is_refused_and_not_counted(make_app, redis_url):
    first, _ = _two_processes(make_app, redis_url, "native=2")
    tenant = make_tenant(first, "acme", ["*"])
    key = new_key(first, tenant)
    client = first.test_client()
    assert client.get("/api/v1/deliveries", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    forged = {"Authorization": f"Bearer {key[:-4]}{'0000' if key[-4:] != '0000' else '1111'}"}
    assert [client.get("/api/v1/deliveries", headers=forged).status_code for _ in range(3)] == [401] * 3
    # The account's one remaining request of the window is still there for the real key.
    assert client.get("/api/v1/deliveries", headers={"Authorization": f"Bearer {key}"}).status_code == 200


def test_a_key_revoked_elsewhere_cannot_use_up_its_account_s_rate_limit(make_app, redis_url):
    # The process that had the key cached drops it once it finds it revoked: at most the first
    # request after the revocation counts, so the account's live keys keep their quota.
    first, second = _two_processes(make_app, redis_url, "native=5")
    tenant = make_tenant(first, "acme", ["*"])
    key = new_key(first, tenant)
    revoked = {"Authorization": f"Bearer {key}"}
    assert first.test_client().get("/api/v1/deliveries", headers=revoked).status_code == 200
    _revoke_in(second, key)
    assert [first.test_client().get("/api/v1/deliveries", headers=revoked).status_code for _ in range(6)] == [401] * 6
    assert first.test_client().get("/api/v1/deliveries", headers=tenant.auth).status_code == 200
