"""The broker transport's teardown when Redis dies under a consumer, on a private redis-server.

This is the kombu sequence behind `tracker worker` exiting on a Redis restart (see
tracker.adapters.broker), reduced to a consumer that holds one unacknowledged message and waits
on a BRPOP, next to a broadcast channel like Celery's remote control, when Redis stops.
"""
from __future__ import annotations

import contextlib
import time

import pytest
from kombu import Connection, Exchange, Queue

from tests.support.redis_server import private_redis

pytestmark = pytest.mark.integration

TRANSPORT = "tracker.adapters.broker:Transport"


def _consuming(url: str, **options):
    """A connection whose consumer took one message without acking it and is waiting for the next."""
    connection = Connection(url, transport=TRANSPORT, transport_options=options)
    channel = connection.default_channel
    queue = Queue("tasks", Exchange("tasks"), "tasks", channel=channel)
    queue.declare()
    connection.Producer().publish({"task": "wake"}, exchange="tasks", routing_key="tasks")
    taken = []
    consumer = connection.Consumer([queue], callbacks=[lambda body, message: taken.append(body)], channel=channel)
    consumer.qos(prefetch_count=2)
    consumer.consume()
    connection.drain_events(timeout=2)
    assert taken == [{"task": "wake"}]
    control = connection.channel()  # as Celery's pidbox: an auto-deleted broadcast queue
    broadcast = Queue("control", Exchange("control", type="fanout"), auto_delete=True, channel=control)
    broadcast.declare()
    connection.Consumer([broadcast], channel=control, no_ack=True, callbacks=[lambda *_: None]).consume()
    for _ in range(5):  # until nothing is left to read: the consumer waits on a BRPOP in flight
        try:
            connection.drain_events(timeout=0.2)
        except TimeoutError:
            return connection
    raise AssertionError("the consumer never went idle")


def test_tearing_down_after_redis_died_under_a_consumer_raises_nothing_and_loses_nothing(tmp_path):
    with private_redis(tmp_path / "redis") as broker:
        connection = _consuming(broker.url())
        broker.stop()

        connection.collect(socket_timeout=1)  # what Celery's consumer does on a lost connection...
        connection.close()  # ...then this, which raised AttributeError and ended the worker

        broker.start()  # Redis kept the unacknowledged message; it comes back after the visibility timeout
        again = Connection(broker.url(), transport=TRANSPORT, transport_options={"visibility_timeout": 1})
        received = []
        queue = Queue("tasks", Exchange("tasks"), "tasks")
        with again.Consumer([queue], callbacks=[lambda body, message: (received.append(body), message.ack())]):
            deadline = time.monotonic() + 20
            while not received and time.monotonic() < deadline:
                with contextlib.suppress(TimeoutError):
                    again.drain_events(timeout=0.2)
        again.close()
        assert received == [{"task": "wake"}]
