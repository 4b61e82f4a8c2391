"""Per-account, per-API-style request limits (fixed one-minute windows).

Redis holds the counters when a broker is configured (so every web process shares them);
the embedded default counts in-process. Limits come from TRACKER_RATE_LIMITS
("sendcloud=3000,infobip=600,..."; 0 means unlimited) over the defaults below.
"""
from __future__ import annotations

import functools
import threading
import time
from types import MappingProxyType

from tracker.adapters import redis_clients
from tracker.services import services

# Requests per minute per account. SendCloud's is documented (3000/min, seed 003); the
# others' documents state none, so these are generous defaults of ours.
DEFAULT_LIMITS = {"sendcloud": 3000, "infobip": 6000, "elevate": 6000, "postman": 6000, "native": 6000}


class LocalCounters:
    """The embedded default's counters: per app, in this process."""

    def __init__(self) -> None:
        self._counts: dict[tuple[int, str, int], int] = {}
        self._lock = threading.Lock()

    def incr(self, key: tuple[int, str, int]) -> int:
        with self._lock:
            if len(self._counts) > 100_000:
                self._counts.clear()
            self._counts[key] = count = self._counts.get(key, 0) + 1
            return count


def parse_limits(raw: str) -> dict[str, int]:
    """TRACKER_RATE_LIMITS over DEFAULT_LIMITS; a malformed part is a ValueError naming it."""
    limits = dict(DEFAULT_LIMITS)
    for part in (p.strip() for p in raw.split(",") if p.strip()):
        style, _, value = part.partition("=")
        try:
            limits[style.strip()] = int(value)
        except ValueError:
            raise ValueError(f"TRACKER_RATE_LIMITS: {part!r} is not style=requests_per_minute") from None
    return limits


@functools.lru_cache(maxsize=16)
def _limits(raw: str):
    """parse_limits once per configured value (it was re-parsed on every request), read-only."""
    return MappingProxyType(parse_limits(raw))


def hit(account_id: int, style: str, *, also_get: str | None = None) -> tuple[float | None, bytes | None]:
    """Count one request: (None if allowed, else the seconds until the window resets; the value of
    the Redis key ``also_get``, read in the same round trip, or None when nothing was sent to Redis:
    no broker, Redis away, or no limit for ``style``)."""
    app = services()
    url = app.config.broker_url
    limit = _limits(app.config.rate_limits).get(style, 0)
    if limit <= 0:
        return None, None
    now = time.time()
    window = int(now // 60)
    if url:
        count, value = _redis_count(url, f"tracker:ratelimit:{style}:{account_id}:{window}", also_get)
    else:
        count, value = app.rate_counters.incr((account_id, style, window)), None
    return (None if count <= limit else (window + 1) * 60 - now), value


def _redis_count(url: str, key: str, also_get: str | None = None) -> tuple[int, bytes | None]:
    try:
        # One round trip without MULTI/EXEC: every hit re-sets the expiry, so an EXPIRE lost
        # between the two would be made good by the window's next request.
        pipe = redis_clients.client(url).pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, 120)
        if also_get:
            pipe.get(also_get)
        answers = pipe.execute()
        return int(answers[0]), (answers[2] if also_get else None)
    except Exception:  # Redis away: do not turn a limiter outage into an API outage
        return 0, None
