"""API keys are cached in each gunicorn worker, yet a revocation shuts every worker at once."""
from __future__ import annotations

import os
import subprocess
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.processes import ROOT, free_port, python, running, wait_for_port

SECRET_KEY = "test-secret-key"
WORKERS = 3


@pytest.fixture
def served(pg_db, redis_url, tmp_path):
    """`tracker serve` with 3 workers on the test database and Redis; each request's worker pid is logged."""
    from tracker.db import repository

    with pg_db.transaction() as session:
        account = repository.create_account(session, "acme")
        key = repository.create_api_key(session, account, secret_key=SECRET_KEY)
    env = {"TRACKER_DATABASE_URL": pg_db.url, "TRACKER_BROKER_URL": redis_url, "TRACKER_SECRET_KEY": SECRET_KEY}
    port, log, access = free_port(), tmp_path / "web.log", tmp_path / "access.log"
    argv = python("-m", "tracker.cli.main", "serve", "--bind", f"127.0.0.1:{port}", "--workers", str(WORKERS),
                  "--access-logfile", str(access), "--access-logformat", "%(p)s %(s)s")
    with running(argv, env, log) as web:
        wait_for_port(port, web, log)
        yield {"port": port, "key": key, "env": env, "access": access}


def _status(port: int, headers: dict) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/deliveries?limit=1", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def burst(served, headers: dict, rounds: int = 300) -> dict[int, set[int]]:
    """Concurrent requests until every worker answered some: worker pid -> the statuses it answered.

    Workers take turns accepting (one is woken at a time), so on a busy machine one may sit out
    many rounds; the loop stops as soon as each has answered, so the bound costs only then."""
    access = served["access"]
    seen = len(access.read_text().splitlines()) if access.exists() else 0
    by_worker: dict[int, set[int]] = {}
    with ThreadPoolExecutor(WORKERS * 2) as pool:
        for _ in range(rounds):
            list(pool.map(lambda _: _status(served["port"], headers), range(WORKERS * 2)))
            lines = access.read_text().splitlines()[seen:] if access.exists() else []
            by_worker = {}
            for line in lines:
                pid, status = line.split()
                by_worker.setdefault(int(pid.strip("<>")), set()).add(int(status))
            if len(by_worker) == WORKERS:
                break
    return by_worker


def test_a_key_revoked_through_the_cli_is_refused_by_every_worker_on_the_next_request(served):
    bearer = {"Authorization": f"Bearer {served['key']}"}
    before = burst(served, bearer)
    assert len(before) == WORKERS and all(statuses == {200} for statuses in before.values())

    key_id = served["key"].split("_")[1]
    revoke = subprocess.run(python("-m", "tracker.cli.main", "keys", "revoke", key_id), cwd=ROOT,
                            env={**_environ(), **served["env"]}, capture_output=True, text=True, timeout=60,
                            check=False)
    assert revoke.returncode == 0, revoke.stderr

    after = burst(served, bearer)
    assert set(after) == set(before)  # the same workers, which had the key cached
    assert all(statuses == {401} for statuses in after.values()), after


def test_each_worker_keeps_a_live_key_without_reading_it_again(served, pg_db):
    """The cache is real: a key changed behind the tracker's back (SQL, no revocation signal) is still
    served from memory; once a revocation goes through the tracker, no worker serves it."""
    from tracker import create_app
    from tracker.config import Config
    from tracker.db import repository

    bearer = {"Authorization": f"Bearer {served['key']}"}
    # Every worker must have cached the key first: under load one worker can go many rounds unserved.
    warmed = burst(served, bearer, rounds=300)
    assert len(warmed) == WORKERS and all(statuses == {200} for statuses in warmed.values()), warmed
    with pg_db.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE api_keys SET revoked_at = now()")
    assert all(statuses == {200} for statuses in burst(served, bearer).values())

    with pg_db.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE api_keys SET revoked_at = NULL")
    # Revoked through the tracker's own database handle (as the CLI and the admin API do).
    app = create_app(Config(database_url=pg_db.url, broker_url=served["env"]["TRACKER_BROKER_URL"],
                            secret_key=SECRET_KEY))
    try:
        with app.extensions["tracker"].db.transaction() as session:
            assert repository.revoke_key(session, served["key"].split("_")[1])
    finally:
        app.extensions["tracker"].db.dispose()
    after = burst(served, bearer)
    assert len(after) == WORKERS and all(statuses == {401} for statuses in after.values()), after


def _environ() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
