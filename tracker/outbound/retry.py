"""What to do after each delivery attempt: done, try again later, or give up. Pure.

    DELIVERED   2xx: the subscriber has it
    RETRY       no response (connection error, timeout), 408, 429, 5xx: may work later
    PARK        any other answer (3xx, other 4xx, ...): the subscriber said no, and asking
                again cannot change that; kept for an operator or the subscriber to replay
"""
from __future__ import annotations

import enum
import random
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tracker.outbound.http import Response

BASE_DELAY = timedelta(seconds=10)
MAX_DELAY = timedelta(hours=1)
# Spread retries of many deliveries that failed together (one subscriber outage) so they
# do not all return at the same instant.
JITTER = (0.5, 1.5)
DEFAULT_MAX_AGE = timedelta(hours=24)


class Outcome(enum.Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    PARK = "park"


def classify(response: Response) -> Outcome:
    """The outcome of one attempt, from its status alone (None: no HTTP response arrived).

    A status with an error (the body read failed after the status line) is judged by the
    status: the subscriber has answered.
    """
    status = response.status
    if status is None:
        return Outcome.RETRY
    if 200 <= status <= 299:
        return Outcome.DELIVERED
    # 408: the server timed out waiting for our request, a timeout like any other.
    if status in (408, 429) or 500 <= status <= 599:
        return Outcome.RETRY
    return Outcome.PARK


def next_delay(attempt: int, rng: random.Random) -> timedelta:
    """How long to wait after failed attempt number ``attempt`` (1 for the first).

    10 s, 20 s, 40 s, ... doubling up to 1 h, then each times a random factor in 0.5..1.5.
    """
    if attempt < 1:
        raise ValueError(f"attempt numbers start at 1, got {attempt}")
    # The exponent is capped before it is used: 2**(attempt - 1) for a huge attempt number
    # would be a needlessly huge integer; 2**9 * 10 s already exceeds the cap.
    base = min(BASE_DELAY * 2 ** min(attempt - 1, 16), MAX_DELAY)
    return base * rng.uniform(*JITTER)


def should_park(first_attempt_at: datetime, now: datetime, max_age: timedelta = DEFAULT_MAX_AGE) -> bool:
    """True once a delivery has been failing for ``max_age`` since its first attempt.

    Pass the time of the next planned attempt as ``now`` to park instead of scheduling an
    attempt that would come too late.
    """
    return now - first_attempt_at >= max_age


def should_disable(failing_since: datetime | None, now: datetime, disable_after: timedelta) -> bool:
    """True once a subscription has had nothing but failures for ``disable_after``.

    ``failing_since`` is when its current run of failures began (None: its last attempt worked).
    """
    return failing_since is not None and now - failing_since >= disable_after
