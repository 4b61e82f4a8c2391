"""The worker outlives broker restarts and crashes, on the production processes under steady traffic.

Each test runs `tracker serve` and `tracker worker` on the test database, posts Infobip
delivery reports from a few threads, and breaks something. The Redis restart runs on a
redis-server of its own, on a free port: the machine's Redis is never stopped. The
figures these tests log (seconds until everything acknowledged is applied) are not asserted.
"""
from __future__ import annotations

import json
import logging
import os
import re
import signal
import time
import urllib.request

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.integration.conftest import production_stack, stack_env
from tests.support.process_tree import alive, busiest, celery_main, children
from tests.support.processes import http, poll, python, running, wait_for_log
from tests.support.redis_server import private_redis
from tests.support.traffic import Traffic
from tests.support.webhooks.infobip import fixture
from tracker.db import repository
from tracker.cli.main import main
from tracker.db.models import InboxEvent

pytestmark = pytest.mark.integration
log = logging.getLogger(__name__)


def _infobip_hook(app) -> str:
    with app.extensions["tracker"].db.transaction() as session:
        account = repository.create_account(session, "acme")
        return f"/hooks/infobip/{repository.create_source(session, account, 'infobip').token}"


def _inbox(app) -> dict[str, int]:
    with app.extensions["tracker"].db.session() as session:
        return {state: count for state, count in repository.inbox_counts(session).items() if count}


def _all_applied(app, acknowledged: int):
    counts = _inbox(app)
    return counts if counts == {"processed": acknowledged} else None


def test_a_redis_restart_under_load_neither_ends_the_worker_nor_strands_events(app, pg_url, pki, tmp_path):
    """Redis stops for 10 s and comes back while reports keep arriving: every acknowledged one is applied."""
    with private_redis(tmp_path / "redis") as broker, \
         production_stack(stack_env(pg_url, broker.url(), pki), tmp_path) as stack:
        hook = _infobip_hook(app)
        with Traffic(stack.base + hook) as traffic:
            assert poll(lambda: _inbox(app).get("processed", 0) > 50), "nothing was applied before the outage"
            time.sleep(2)  # the worker is draining a steady stream
            broker.stop()
            time.sleep(10)
            broker.start()
            back_at = time.monotonic()
            time.sleep(3)  # and events keep arriving after Redis is back

        assert stack.worker.poll() is None, "tracker worker exited:\n" + stack.worker_log.read_text()[-4000:]
        acknowledged = traffic.acknowledged
        assert acknowledged > 200, traffic.answers
        settled = poll(lambda: _all_applied(app, acknowledged), timeout=30)
        assert settled, f"acknowledged {acknowledged}, inbox {_inbox(app)}:\n{stack.worker_log.read_text()[-3000:]}"
        log.info("all %d acknowledged reports applied %.1f s after Redis came back (%s)", acknowledged,
                    time.monotonic() - back_at, dict(traffic.answers))
        assert stack.worker.poll() is None


def _crash_under_traffic(app, stack, crash) -> None:
    """Crash a worker process while reports arrive, stop the traffic, and see every acknowledged report applied.

    The traffic stops right after the crash, so no receiver's wake-up comes to the rescue:
    what picks the pending rows up is the worker's own recovery.
    """
    hook = _infobip_hook(app)
    with Traffic(stack.base + hook) as traffic:
        assert poll(lambda: _inbox(app).get("processed", 0) > 50), "nothing was applied before the crash"
        crash()
        crashed_at = time.monotonic()
    acknowledged = traffic.acknowledged
    # Generous, but short of the 30 s sweep that used to be the only way out.
    settled = poll(lambda: _all_applied(app, acknowledged), timeout=15)
    assert settled, f"acknowledged {acknowledged}, inbox {_inbox(app)}:\n{stack.worker_log.read_text()[-3000:]}"
    log.info("all %d acknowledged reports applied %.1f s after the crash", acknowledged, time.monotonic() - crashed_at)


def test_rows_are_picked_up_within_seconds_after_the_draining_pool_process_is_killed(app, pg_url, redis_url, pki,
                                                                                     tmp_path):
    """SIGKILL the pool process that is draining (as the OOM killer would); production sweep settings."""
    with production_stack(stack_env(pg_url, redis_url, pki), tmp_path) as stack:
        def kill_the_drainer():
            drainer = busiest(children(celery_main(stack.worker.pid)))
            os.kill(drainer, signal.SIGKILL)

        _crash_under_traffic(app, stack, kill_the_drainer)
        assert stack.worker.poll() is None


def test_a_killed_celery_worker_is_restarted_and_picks_the_rows_up(app, pg_url, redis_url, pki, tmp_path):
    """SIGKILL the whole Celery worker (main process, pool, embedded beat): `tracker worker` starts it again."""
    with production_stack(stack_env(pg_url, redis_url, pki), tmp_path) as stack:
        killed = []

        def kill_the_worker():
            main = celery_main(stack.worker.pid)
            killed.append(main)
            os.killpg(main, signal.SIGKILL)

        _crash_under_traffic(app, stack, kill_the_worker)
        assert stack.worker.poll() is None, "tracker worker exited"
        assert not alive(killed[0])
        assert poll(lambda: _celery_other_than(stack.worker.pid, killed[0])), stack.worker_log.read_text()[-3000:]


def _celery_other_than(supervisor: int, dead: int) -> int | None:
    try:
        found = celery_main(supervisor)
    except LookupError:  # between two lives
        return None
    return found if found != dead else None


def _scrape(base: str) -> dict[str, float]:
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {name: float(value) for name, value in re.findall(r"^(tracker_\S+) (\S+)$", text, re.M)}


def test_a_stopped_worker_leaves_events_pending_in_sight_and_its_successor_applies_them(app, pg_url, redis_url, pki,
                                                                                      tmp_path):
    """SIGTERM stops `tracker worker` cleanly; what then waits is on /metrics and in `events list`."""
    env = stack_env(pg_url, redis_url, pki)
    with production_stack(env, tmp_path) as stack:
        celery = celery_main(stack.worker.pid)
        stack.worker.send_signal(signal.SIGTERM)
        # A warm shutdown first finishes the tasks in flight (a sweep, a beat job just started): on a
        # loaded machine that once took just over 30 s, ending cleanly (0). What is checked is a clean stop.
        assert stack.worker.wait(90) == 0, stack.worker_log.read_text()[-3000:]
        assert not alive(celery)

        hook = _infobip_hook(app)
        for number in range(3):
            report = json.loads(fixture("dlr/delivered.json"))
            report["results"][0]["messageId"] = f"waiting-{number}"
            status, _ = http("POST", stack.base + hook, json.dumps(report).encode(),
                             {"Content-Type": "application/json"})
            assert status == 200

        # Every gunicorn worker answers the same: the figures are read from the database.
        assert poll(lambda: _scrape(stack.base).get("tracker_processing_lag_seconds", 0) >= 2, timeout=20)
        for _ in range(6):
            figures = _scrape(stack.base)
            assert figures['tracker_inbox_events{state="pending"}'] == 3
            assert figures["tracker_processing_lag_seconds"] >= 2
        listing = CliRunner().invoke(main, ["events", "list", "--state", "pending"], catch_exceptions=False, env={
            "TRACKER_DATABASE_URL": pg_url, "TRACKER_BROKER_URL": "", "COLUMNS": "200"}).output
        with app.extensions["tracker"].db.session() as session:
            waiting = [row.id for row in session.scalars(select(InboxEvent).order_by(InboxEvent.id))]
        rows = [line.split("│") for line in listing.splitlines() if line.startswith("│")]
        assert [int(row[1]) for row in rows] == waiting, listing
        ages = [int(re.fullmatch(r"\s*(\d+)s\s*", row[6]).group(1)) for row in rows]
        assert ages[0] >= 2 and ages == sorted(ages, reverse=True), listing
        assert "pending events: 3, the oldest waiting" in listing

        log_path = tmp_path / "successor.log"
        with running(python("-m", "tracker.cli.main", "worker", "--concurrency", "2",
                            "--schedule", str(tmp_path / "beat-schedule")), env, log_path) as successor:
            wait_for_log(log_path, "ready", successor)
            assert poll(lambda: _all_applied(app, 3), timeout=15), _inbox(app)
            assert _scrape(stack.base)["tracker_processing_lag_seconds"] == 0


def test_tracker_beat_outlives_a_redis_restart_and_a_sigterm_stops_it(pg_url, pki, tmp_path):
    """Standalone beat (as in docker-compose): it reconnects by itself and schedules sweeps again."""
    import redis

    with private_redis(tmp_path / "redis") as broker:
        log_path = tmp_path / "beat.log"
        with running(python("-m", "tracker.cli.main", "beat", "--schedule", str(tmp_path / "beat-schedule")),
                     stack_env(pg_url, broker.url(), pki), log_path) as beat:
            wait_for_log(log_path, "beat: Starting", beat)
            broker.stop()
            time.sleep(3)
            broker.start()
            queued = redis.Redis.from_url(broker.url())
            queued.delete("celery")  # what beat sent before the outage

            assert poll(lambda: queued.llen("celery"), timeout=20), log_path.read_text()[-3000:]
            beat.send_signal(signal.SIGTERM)
            assert beat.wait(20) == 0, log_path.read_text()[-3000:]
