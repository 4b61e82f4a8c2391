"""Waiting, bounded, for the tracker to confirm a new SNS subscription (it does so itself, through its inbox)."""
from __future__ import annotations

import dataclasses
import time
from datetime import datetime
from collections.abc import Callable

from tracker.db import repository
from tracker.db.engine import Database
from tracker.adapters.ses_setup.links import Handshake
from tracker.adapters.ses_setup.read import read_handshake, subscription_flags


@dataclasses.dataclass(frozen=True)
class Check:
    confirmed: bool  # SNS's word: PendingConfirmation is false
    handshake: Handshake  # the tracker's side, to say what it is waiting for


def wait_for_confirmation(check: Callable[[], Check], *, timeout: float, interval: float = 0.25,
                          max_interval: float = 2.0,
                          on_progress: Callable[[float, Check], None] = lambda elapsed, check: None,
                          clock: Callable[[], float] = time.monotonic,
                          sleep: Callable[[float], None] = time.sleep) -> Check:
    """Check until SNS says confirmed or ``timeout`` seconds passed; the last check either way.

    The interval doubles from ``interval`` to ``max_interval``: a tracker that confirms at once
    is seen at once, and a slow handshake costs SNS one call every couple of seconds.
    """
    start = clock()
    while True:
        result = check()
        elapsed = clock() - start
        if result.confirmed or elapsed >= timeout:
            return result
        on_progress(elapsed, result)
        sleep(max(0.0, min(interval, timeout - elapsed)))
        interval = min(interval * 2, max_interval)


def subscription_check(sns, db: Database, subscription_arn: str, token: str, topic_arn: str,
                       since: datetime) -> Callable[[], Check]:
    """A check of one subscription: SNS's attributes, and what the tracker received since ``since``."""
    def check() -> Check:
        pending, _ = subscription_flags(sns, subscription_arn)
        with db.session() as session:
            source = repository.source_by_token(session, token)
            handshake = read_handshake(session, source.id, topic_arn, since) if source else Handshake()
        return Check(not pending, handshake)

    return check
