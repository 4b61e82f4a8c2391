"""Live API keys cached per process, a revocation taking effect at once in every process.

How: Redis (the broker) holds a revocation counter. A transaction that revokes a key
increments it once it has committed (tracker.db.engine's key_revocation_hooks, wired by
install()). Every request reads the counter (one GET, ~0.1 ms) before it trusts its
process's cache, and an entry is only used under the counter it was read under; so the
request after a revocation returned, in any process, misses the cache and finds the key
revoked in PostgreSQL. The check is synchronous: unlike pub/sub invalidation there is no
moment when a process has not yet heard, and unlike a TTL no stale window at all.

Redis unreachable: nothing cached is trusted, keys are looked up in PostgreSQL. A counter
gone (Redis restarted empty) starts again from a random value, never one a cache holds. If
the increment itself fails (Redis down just as a key is revoked) the failure is logged and
entries still expire after MAX_AGE: the only case in which a revoked key lives on, and
for at most that long. Without a broker (the embedded single-process default) nothing is
cached: each request looks its key up with one Core query.

One round trip, not two: an API request also counts itself against its rate limit in Redis.
Within ``deferring()`` (tracker.http.auth does it) a cached key is used at once and the
counter is read in the rate limiter's pipeline, after the lookup, which is just as
synchronous: if that counter is not the one the entry was read under, the request is
identified again the strict way (counter first, then PostgreSQL) before its view runs, and a
key found revoked leaves the cache. The one difference: the first request a process sees
with a key revoked elsewhere counts against its account's rate limit before it is refused.
"""
from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time

from flask import g, has_app_context

from tracker.adapters import redis_clients
from tracker.db import keys, repository
from tracker.db.repository import KeyRecord

log = logging.getLogger(__name__)

COUNTER = "tracker:api-keys:revocations"
_DEFERRED = "tracker_key_counters"  # in flask.g within deferring(): the counters of the entries used
MAX_AGE = 60.0  # seconds; a backstop only (see the module's docstring)
_MAX_ENTRIES = 10_000


class KeyCache:
    """key id -> the live key's record, each entry valid under the revocation counter it was read under."""

    def __init__(self, broker_url: str | None) -> None:
        # No Database here: the database's revocation hooks hold this cache, and a cycle would
        # keep a dropped app's connection pool open until the next garbage collection.
        self._url = broker_url
        self._entries: dict[str, tuple[float, int, KeyRecord]] = {}
        self._unsealed: dict[tuple[str, str], str | None] = {}  # (sealed key, secret key) -> the key
        self._lock = threading.Lock()

    def record(self, db, key_id: str) -> KeyRecord | None:
        """The live key with this id (looked up in ``db`` unless cached), or None (unknown or revoked)."""
        now = time.monotonic()
        deferred = g.get(_DEFERRED) if has_app_context() else None
        if deferred is not None:
            entry = self._entries.get(key_id)
            if entry is not None and entry[0] > now:
                deferred.append(entry[1])  # the caller checks it against the counter it reads next (holds())
                return entry[2]
        counter = self._counter()
        if counter is not None:
            entry = self._entries.get(key_id)
            if entry is not None and entry[1] == counter and entry[0] > now:
                return entry[2]
        # Read after the counter: a revocation that commits after this lookup bumps the counter
        # after it too, so the entry stored below is never used again once the revoker returned.
        with db.reading() as connection:
            found = repository.live_key(connection, key_id)
        if found is not None and counter is not None:
            with self._lock:
                if len(self._entries) >= _MAX_ENTRIES:
                    self._entries.clear()
                self._entries[key_id] = (now + MAX_AGE, counter, found)
        elif found is None:
            # Gone (revoked elsewhere): drop what this process held, or every later request with the
            # key would use the stale entry under deferring() and count against its account first.
            with self._lock:
                self._entries.pop(key_id, None)
        return found

    def unsealed(self, record: KeyRecord, secret_key: str) -> str | None:
        """The key itself, from its sealed copy (for JWTs): unsealing is deterministic, so memoised."""
        memo = (record.sealed_key, secret_key)
        if memo not in self._unsealed:
            with self._lock:
                if len(self._unsealed) >= _MAX_ENTRIES:
                    self._unsealed.clear()
            self._unsealed[memo] = keys.unseal(record.sealed_key, secret_key)
        return self._unsealed[memo]

    @contextlib.contextmanager
    def deferring(self):
        """Within it, record() uses a cached key without reading the counter first. It yields the
        counters of the entries so used: the caller must read COUNTER afterwards and identify the
        request again unless holds() says they stand."""
        deferred: list[int] = []
        setattr(g, _DEFERRED, deferred)
        try:
            yield deferred
        finally:
            g.pop(_DEFERRED, None)

    @staticmethod
    def holds(deferred: list[int], counter: bytes | str | int | None) -> bool:
        """Whether the entries used within deferring() are still trusted, ``counter`` being COUNTER's
        value read after they were used (None: Redis could not say, so they are not)."""
        if not deferred:
            return True
        return counter is not None and all(used == int(counter) for used in deferred)

    def _counter(self) -> int | None:
        """The revocation counter now, or None: nothing cached may be trusted (no broker, Redis away)."""
        if not self._url:
            return None
        try:
            client = redis_clients.client(self._url)
            value = client.get(COUNTER)
            if value is None:  # never set, or Redis restarted empty: a random start, never a cached one
                client.set(COUNTER, secrets.randbits(62), nx=True)
                value = client.get(COUNTER)
            return int(value)
        except Exception:  # noqa: BLE001 - Redis away: look keys up in PostgreSQL meanwhile
            return None

    def revoked(self) -> None:
        """A revocation committed: move the counter on, so every process's cache stops trusting its entries."""
        with self._lock:
            self._entries.clear()
        if not self._url:
            return
        try:
            redis_clients.client(self._url).incr(COUNTER)
        except Exception:  # the revocation stands; caches elsewhere drop the key within MAX_AGE
            log.exception("an API key was revoked but Redis could not be told: other processes may accept it for "
                          "up to %.0f s more", MAX_AGE)


def install(app) -> KeyCache:
    """Give ``app`` its key cache and tell it of every revocation committed through the app's database."""
    services = app.extensions["tracker"]
    cache = KeyCache(services.config.broker_url)
    services.db.key_revocation_hooks.append(cache.revoked)
    app.extensions["tracker.keys"] = cache
    return cache
