"""Fixtures for tests that run the production processes."""
from __future__ import annotations

import contextlib
import dataclasses
import subprocess
from pathlib import Path
from collections.abc import Iterator

import pytest

from tests.support.processes import free_port, python, running, wait_for_log, wait_for_port


@dataclasses.dataclass
class Stack:
    """A running `tracker serve` and `tracker worker`: the base URL, the worker process and its log."""

    base: str
    worker: subprocess.Popen
    worker_log: Path


@contextlib.contextmanager
def production_stack(env: dict[str, str], directory: Path, *, web_workers: int = 2) -> Iterator[Stack]:
    """`tracker serve` (gunicorn), `tracker worker` (Celery with beat) and `tracker worker --webhooks`."""
    port = free_port()
    web_log, worker_log = directory / "web.log", directory / "worker.log"
    with running(python("-m", "tracker.cli.main", "serve", "--bind", f"127.0.0.1:{port}", "--workers",
                        str(web_workers)), env, web_log) as web, \
         running(python("-m", "tracker.cli.main", "worker", "--concurrency", "2",
                        "--schedule", str(directory / "beat-schedule")), env, worker_log) as worker, \
         running(python("-m", "tracker.cli.main", "worker", "--webhooks"), env, directory / "webhooks.log"):
        wait_for_port(port, web, web_log)
        wait_for_log(worker_log, "ready", worker)
        yield Stack(f"http://127.0.0.1:{port}", worker, worker_log)


def stack_env(pg_url: str, broker_url: str, pki, **overrides: str) -> dict[str, str]:
    return {
        "TRACKER_DATABASE_URL": pg_url,
        "TRACKER_BROKER_URL": broker_url,
        "TRACKER_SNS_CERT_DIR": str(pki.directory),
        # The tests' webhook receivers listen on loopback over plain http.
        "TRACKER_WEBHOOKS_ALLOW_HTTP": "1",
        "TRACKER_WEBHOOKS_ALLOWED_NETWORKS": "127.0.0.0/8:*",
        **overrides,
    }


@pytest.fixture
def stack(app, pg_url, redis_url, pki, tmp_path):
    """The production processes on the test database and Redis, sweeping every second; the base URL."""
    env = stack_env(pg_url, redis_url, pki, TRACKER_SWEEP_INTERVAL="1", TRACKER_SWEEP_GRACE="1")
    with production_stack(env, tmp_path) as running_stack:
        yield running_stack.base


@pytest.fixture
def unannounced_deaths(monkeypatch):
    """Connections die as when their server vanishes without a word (a host lost, a network cut):
    nothing shows on an idle connection's socket, so only its next statement finds it dead. (A server
    that ends a session says so first, and tracker.db.liveness replaces such a connection when taken.)"""
    from tracker.db import liveness

    monkeypatch.setattr(liveness, "ended_by_server", lambda driver: bool(driver.closed))
