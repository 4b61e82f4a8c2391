"""Fixtures for tests that run the production processes."""
from __future__ import annotations

import pytest

from tests.support.processes import free_port, python, running, wait_for_log, wait_for_port


@pytest.fixture
def stack(app, pg_url, redis_url, pki, tmp_path):
    """`tracker serve` (gunicorn), `tracker worker` (Celery with beat) and `tracker worker --webhooks`."""
    env = {
        "TRACKER_DATABASE_URL": pg_url,
        "TRACKER_BROKER_URL": redis_url,
        "TRACKER_SNS_CERT_DIR": str(pki.directory),
        "TRACKER_SWEEP_INTERVAL": "1",
        "TRACKER_SWEEP_GRACE": "1",
        # The tests' webhook receivers listen on loopback over plain http.
        "TRACKER_WEBHOOKS_ALLOW_HTTP": "1",
        "TRACKER_WEBHOOKS_ALLOWED_NETWORKS": "127.0.0.0/8:*",
    }
    port = free_port()
    web_log, worker_log = tmp_path / "web.log", tmp_path / "worker.log"
    with running(python("-m", "tracker.cli", "serve", "--bind", f"127.0.0.1:{port}", "--workers", "2"),
                 env, web_log) as web, \
         running(python("-m", "tracker.cli", "worker", "--concurrency", "2",
                        "--schedule", str(tmp_path / "beat-schedule")), env, worker_log) as worker, \
         running(python("-m", "tracker.cli", "worker", "--webhooks"), env, tmp_path / "webhooks.log"):
        wait_for_port(port, web, web_log)
        wait_for_log(worker_log, "ready", worker)
        yield f"http://127.0.0.1:{port}"
