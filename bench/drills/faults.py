"""The faults a drill injects while traffic flows, one per drill; each notes what it did and when."""
from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import threading
import time
from collections.abc import Callable

from bench.drills import poison, proc
from bench.drills.services import PrivatePostgres
from bench.drills.sns_client import Fate, Sender
from bench.drills.stack import Stack
from tests.support.redis_server import PrivateRedis
from tests.support.sns_signing import SnsTestPki


@dataclasses.dataclass
class Scene:
    """What a fault may act on, and the drill's timeline."""

    stack: Stack
    database_url: str
    postgres: PrivatePostgres
    redis: PrivateRedis
    sender: Sender
    sends: int  # genuine sends planned
    started: float
    outage: float  # seconds a stopped service stays down
    drain_timeout: float
    pki: SnsTestPki
    poison_tokens: dict[str, str] = dataclasses.field(default_factory=dict)
    poison_fates: list[Fate] = dataclasses.field(default_factory=list)
    timeline: list[tuple[float, str]] = dataclasses.field(default_factory=list)

    def note(self, text: str) -> None:
        self.timeline.append((time.monotonic() - self.started, text))

    def when_acknowledged(self, fraction: float) -> None:
        """Wait until this fraction of the genuine sends has been acknowledged."""
        self.sender.wait_acknowledged(max(1, int(self.sends * fraction)))
        self.note(f"{self.sender.acknowledged} sends acknowledged")


def none(scene: Scene) -> None:
    """No fault: the reference run."""


def worker_kill(scene: Scene) -> None:
    """SIGKILL the pool process applying a batch, later `tracker worker` whole (every process)."""
    scene.when_acknowledged(1 / 4)
    worker = scene.stack.worker
    applying = proc.applying_batch(lambda: list(worker.tree()), scene.database_url, timeout=scene.drain_timeout)
    if applying is None:
        scene.note("no worker process was applying a batch: no first kill")
    else:
        scene.note(f"SIGKILL the Celery pool process applying a batch (pid {applying})")
        with contextlib.suppress(ProcessLookupError):
            os.kill(applying, signal.SIGKILL)
    scene.when_acknowledged(2 / 3)
    scene.note("SIGKILL tracker worker and every process under it (the service manager restarts it 1 s later)")
    worker.kill()
    worker.wait_restarted()
    worker.wait_for_log("ready")
    scene.note("tracker worker ready again")


def redis_stop(scene: Scene) -> None:
    """Stop Redis (its queues are lost: no persistence) for the outage, then start it again."""
    scene.when_acknowledged(1 / 3)
    scene.note("stopping Redis")
    scene.redis.stop()
    scene.note("Redis stopped")
    time.sleep(scene.outage)
    scene.redis.start()
    scene.note("Redis started")


def postgres_stop(scene: Scene) -> None:
    """Stop PostgreSQL (fast shutdown) for the outage, then start it again."""
    scene.when_acknowledged(1 / 3)
    scene.note("stopping PostgreSQL")
    scene.postgres.stop()
    scene.note("PostgreSQL stopped")
    time.sleep(scene.outage)
    scene.postgres.start()
    scene.note("PostgreSQL started")


def receiver_kill(scene: Scene) -> None:
    """SIGKILL tracker serve: gunicorn's master and workers, requests in flight; restarted a second later."""
    scene.when_acknowledged(1 / 2)
    scene.note("SIGKILL tracker serve (gunicorn master and workers)")
    scene.stack.web.kill()
    scene.stack.web.wait_restarted()
    scene.stack.wait_web()
    scene.note("receiver listening again")


def poisoned(scene: Scene) -> None:
    """One account's poison, first before its neighbours' genuine events, then amid them."""
    poison_sender = Sender(scene.stack.port, concurrency=4, max_attempts=3)
    scene.note("first poison volley")
    scene.poison_fates += poison_sender.post_all(poison.volley(scene.poison_tokens, scene.pki, "a"))
    scene.when_acknowledged(1 / 2)
    scene.note("second poison volley")
    scene.poison_fates += poison_sender.post_all(poison.volley(scene.poison_tokens, scene.pki, "b"))


@dataclasses.dataclass(frozen=True)
class Drill:
    name: str
    inject: Callable[[Scene], None]
    poison: bool = False

    @property
    def description(self) -> str:
        return (self.inject.__doc__ or "").strip()


DRILLS = {drill.name: drill for drill in (
    Drill("baseline", none),
    Drill("worker-kill", worker_kill),
    Drill("redis-stop", redis_stop),
    Drill("postgres-stop", postgres_stop),
    Drill("receiver-kill", receiver_kill),
    Drill("poison", poisoned, poison=True),
)}


def start(drill: Drill, scene: Scene) -> threading.Thread:
    """Run the drill's fault in a thread (it waits for its moment); failures are noted, not raised."""
    def run() -> None:
        try:
            drill.inject(scene)
        except Exception as error:  # the drill reports it; the traffic must go on
            scene.note(f"the fault itself failed: {error!r}")

    thread = threading.Thread(target=run, name=f"fault-{drill.name}", daemon=True)
    thread.start()
    return thread
