"""After a database restart requests succeed at once; connections that died unannounced fail one request.

A server that ends a session (a restart, pg_terminate_backend, idle_session_timeout) tells the
client so before closing its socket: such a connection is replaced when it is taken, kept or pooled,
for the price of one poll() of its socket, no round trip (tracker.db.liveness).

A connection that died unannounced (its host lost) is found dead by the statement it runs, which
fails that request alone, not one per connection its pool kept idle.

Core, on finding a connection lost, invalidates the pool's other connections of that generation
too (they died with the server), so the next checkout connects anew. The paths that run their
statements on the driver and handle its errors themselves must do the same: Infobip's report
pull (tracker.db.driver_reads.within) and the receivers' two-statement insert of a webhook with a
one-time token (tracker.db.raw). A pool holds several idle connections after requests ran at once
(gthread workers, `tracker run`'s threads); here they are checked out together, as such a burst does.
"""
from __future__ import annotations

import contextlib
import json

import pytest
import sqlalchemy as sa

from tests.support import api_styles
from tests.support.harness import FIXTURES, RecordingWaker, make_tenant
from tests.support.private_postgres import private_cluster
from tests.support.processes import free_port, http, poll, python, running, wait_for_port
from tests.support.sns_signing import DEFAULT_TOPIC_ARN, notification
from tests.support.webhooks.catalog import PROVIDERS
from tracker.db import repository

pytestmark = pytest.mark.integration

IDLE = 4  # connections the pool keeps idle (it keeps 5)


def restart_with_idle_connections(app, pg_url: str) -> None:
    """Leave IDLE connections idle in the app's pool, then end every session of the app's database,
    as a restart of the server does, and wait until they are gone."""
    engine = app.extensions["tracker"].db.engine
    with contextlib.ExitStack() as burst:
        for _ in range(IDLE):
            burst.enter_context(engine.connect()).execute(sa.select(1))
    assert engine.pool.checkedin() >= IDLE
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")  # each look a snapshot of its own
    others = ("FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
              "AND backend_type = 'client backend'")
    with admin.connect() as connection:
        ended = connection.execute(sa.text(f"SELECT count(pg_terminate_backend(pid)) {others}")).scalar()
        # A backend leaves pg_stat_activity after telling its client.
        assert poll(lambda: connection.execute(sa.text(f"SELECT count(*) = 0 {others}")).scalar(), timeout=10)
    admin.dispose()
    assert ended >= IDLE


def test_after_the_database_ended_idle_connections_every_path_answers_at_once(make_app, redis_url, pg_url, pki):
    app = make_app(broker_url=redis_url)  # keys cached, as in production
    tenant = make_tenant(app, "acme", [DEFAULT_TOPIC_ARN])
    with app.extensions["tracker"].db.transaction() as session:
        operator = repository.create_api_key(session, repository.account_by_name(session, "acme"), role="operator")
    client = app.test_client()
    bounce = json.loads((FIXTURES / "ses" / "notification" / "bounce-permanent.json").read_text())
    requests = {
        "SNS receiver (a kept connection)": lambda: client.post(tenant.hook, data=json.dumps(pki.sign(notification(
            bounce)))),
        "native list (a kept connection, on the driver)": lambda: client.get("/api/v1/deliveries",
                                                                             headers=tenant.auth),
        "Infobip reports (a pooled connection, on the driver)": lambda: client.get(
            "/email/1/reports", headers=api_styles.app_key(tenant.key)),
        "admin list (a pooled connection, through Core)": lambda: client.get(
            "/api/v1/admin/events", headers=api_styles.bearer(operator)),
    }
    assert {name: call().status_code for name, call in requests.items()} == dict.fromkeys(requests, 200)
    restart_with_idle_connections(app, pg_url)

    answered = {name: call().status_code for name, call in requests.items()}

    assert answered == dict.fromkeys(requests, 200)


def test_after_connections_died_unannounced_infobips_report_pulls_fail_once_then_answer(make_app, redis_url, pg_url,
                                                                                       unannounced_deaths):
    app = make_app(broker_url=redis_url)  # keys cached, as in production: the pull's is the first statement
    tenant = make_tenant(app, "acme", [DEFAULT_TOPIC_ARN])
    client = app.test_client()

    def pull():
        return client.get("/email/1/reports", headers=api_styles.app_key(tenant.key))

    assert pull().status_code == 200
    restart_with_idle_connections(app, pg_url)

    codes = [pull().status_code for _ in range(IDLE + 1)]

    assert codes[0] in (200, 503)  # the connection found dead fails its request, as on Core's path
    assert codes[1:] == [200] * IDLE, codes


@pytest.mark.parametrize("provider", [p for p in PROVIDERS if p.one_time_token], ids=lambda p: p.name)
def test_after_connections_died_unannounced_one_time_token_webhooks_fail_once_then_are_stored(
        app, pg_url, provider, unannounced_deaths):
    with app.extensions["tracker"].db.transaction() as session:
        account = repository.create_account(session, "acme")
        token = repository.create_source(session, account, provider.name, secret=provider.secret).token
    client = app.test_client()

    def push():  # each signed anew: a token of its own, as the provider's every POST has
        body, headers = provider.signed(provider.fixture(provider.bounce_fixture))
        return client.post(f"/hooks/{provider.name}/{token}", data=body, headers=headers)

    assert push().status_code == 200
    restart_with_idle_connections(app, pg_url)

    codes = [push().status_code for _ in range(IDLE + 1)]

    assert codes[0] in (200, 503)  # the sender retries a 503
    assert codes[1:] == [200] * IDLE, codes


def test_tracker_serve_answers_at_once_after_a_postgresql_restart_and_503_in_each_apis_shape_while_down(
        pki, redis_url, tmp_path):
    """The operator's drill, on a private cluster: PostgreSQL restarted under `tracker serve` (one
    gunicorn worker, so the process that served before serves after, its connections idle meanwhile),
    then stopped. Once it is back, the first request of each receiver and API succeeds, without
    restarting the tracker; while it is down, each answers 503 in its own error shape."""
    from tracker import create_app
    from tracker.adapters.sns_certificates import DirectoryCertificateStore
    from tracker.config import Config

    with private_cluster("restart") as cluster:
        url = cluster.create_database()
        app = create_app(Config(database_url=url, secret_key="test-secret-key"),
                         certificates=DirectoryCertificateStore(pki.directory), waker=RecordingWaker())
        tenant = make_tenant(app, "acme", [DEFAULT_TOPIC_ARN])
        app.extensions["tracker"].db.dispose()
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        bounce = json.loads((FIXTURES / "ses" / "notification" / "bounce-permanent.json").read_text())
        calls = {  # name: (method, path, body, headers, the API's error shape)
            "sns": lambda: ("POST", f"/hooks/sns/{tenant.token}", json.dumps(pki.sign(notification(bounce))).encode(),
                            {}, api_styles.native_error),
            "native": lambda: ("GET", "/api/v1/deliveries", None, tenant.auth, api_styles.native_error),
            "elevate": lambda: ("GET", "/v1/email-status", None, api_styles.elevate_jwt(tenant.key),
                                api_styles.native_error),
            "infobip logs": lambda: ("GET", "/email/1/logs", None, api_styles.app_key(tenant.key),
                                     api_styles.infobip_error),
            "infobip reports": lambda: ("GET", "/email/1/reports", None, api_styles.app_key(tenant.key),
                                        api_styles.infobip_error),
            "sendcloud": lambda: ("GET", f"/apiv2/data/emailStatus?apiUser=u&apiKey={tenant.key}&days=1", None, {},
                                  api_styles.sendcloud_error),
            "postman": lambda: ("GET", "/v1/transactional/email", None, tenant.auth, api_styles.postman_error),
        }

        def answers() -> dict[str, tuple[int, bool]]:
            found = {}
            for name, call in calls.items():
                method, path, body, headers, shape = call()
                status, answer = http(method, base + path, body, headers)
                found[name] = (status, shape(status, answer))
            return found

        env = {"TRACKER_DATABASE_URL": url, "TRACKER_BROKER_URL": redis_url, "TRACKER_SECRET_KEY": "test-secret-key",
               "TRACKER_SNS_CERT_DIR": str(pki.directory)}
        log = tmp_path / "web.log"
        with running(python("-m", "tracker.cli.main", "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1"), env,
                     log) as web:
            wait_for_port(port, web, log)
            assert {name: status for name, (status, _) in answers().items()} == dict.fromkeys(calls, 200)
            cluster.stop()  # a restart, nobody asking meanwhile: the connections of before sit idle
            cluster.start()
            back = answers()
            cluster.stop()
            down = answers()

        assert {name: status for name, (status, _) in back.items()} == dict.fromkeys(calls, 200)
        assert down == dict.fromkeys(calls, (503, True))
        assert " 500 " not in log.read_text()
