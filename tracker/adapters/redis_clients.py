"""One Redis client per URL per process, with short timeouts: callers treat Redis as optional."""
from __future__ import annotations

import threading

_clients: dict[str, object] = {}
_lock = threading.Lock()


def client(url: str):
    """The process's client for ``url`` (a connection pool: safe to share between threads)."""
    found = _clients.get(url)
    if found is None:
        import redis

        with _lock:
            found = _clients.get(url)
            if found is None:
                found = _clients[url] = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    return found
