"""kombu's Redis transport with its teardown after a lost broker connection made safe to repeat.

Why this exists (kombu 5.7.0 with redis-py 8, the newest releases; the fault reproduces with
them): when Redis goes away, Celery's consumer tears its connection down twice,
``Connection.collect()`` then ``Connection.close()``. In the first pass the consumer channel,
waiting on a BRPOP, tries to read that BRPOP's reply while closing (kombu #1733); on the dead
socket this raises a ConnectionError, which aborts the channel's close before anything else,
and the transport is then detached from its connection (``transport.client = None``). The
second pass closes the channel again and its QoS tries to requeue the messages it holds
unacknowledged (the task running with ``acks_late``), building a Redis pool from the detached
transport: ``AttributeError: 'NoneType' object has no attribute 'hostname'``. Celery only
ignores connection errors there, so the worker logs "Unrecoverable error" and exits. An idle
worker survives because it holds no unacknowledged message.

Two overrides, each where kombu goes wrong:

- closing a channel whose BRPOP died with the connection goes on closing (there is no reply
  to read), so the first pass closes it while the transport is still attached;
- requeueing unacknowledged messages through a detached transport is not attempted. Nothing
  is lost either way: with Redis unreachable the requeue cannot happen anyway, and the
  messages stay in Redis's ``unacked`` hash, from which kombu's ``restore_visible`` puts them
  back on their queue once the visibility timeout has passed.

Selected with ``broker_transport`` (tracker.db.engine) for ``redis://`` and ``rediss://`` URLs.
"""
from __future__ import annotations

import logging
from queue import Empty

from kombu.transport import redis

log = logging.getLogger(__name__)


class QoS(redis.QoS):
    def restore_unacked(self, client=None):
        transport = self.channel.connection
        if client is None and (transport is None or transport.client is None):
            if self._delivered:
                log.warning("broker connection gone: %d unacknowledged message(s) stay in Redis and return to "
                            "their queue after the visibility timeout", len(self._delivered))
            self._delivered.clear()
            return
        return super().restore_unacked(client)


class Channel(redis.Channel):
    QoS = QoS

    def close(self):
        if self._in_poll:
            try:
                self._brpop_read()  # kombu reads a BRPOP in flight so that a message it popped is not lost
            except Empty:
                pass
            except self.connection_errors:
                pass  # the connection died under the BRPOP: there is no reply to read; close the rest
        super().close()


class Transport(redis.Transport):
    Channel = Channel
