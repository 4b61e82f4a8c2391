"""The webhook leases a sender holds, renewed in the background while their POSTs are in flight.

A lease is short so that a sender that dies frees its events quickly; a POST may take longer
than a lease (up to the webhook timeout), so while it is in flight a thread moves the lease
on. The renewal is conditional on the lease still being the one this sender wrote: a lease
that ran out meanwhile (the database was away) and was taken by another sender is given up.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from datetime import datetime, timedelta

from tracker.db import repository
from tracker.db.models import utcnow

log = logging.getLogger(__name__)


class Leases:
    """Event id -> the lease this sender holds on it (its ``leased_until``), until released."""

    def __init__(self, db, length: timedelta) -> None:
        self._db = db
        self._length = length
        self._held: dict[int, datetime] = {}
        # Held across a renewal's round trip, so that release() never returns a value the
        # database no longer has.
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def hold(self, ids: Iterable[int], until: datetime) -> None:
        with self._lock:
            for event_id in ids:
                self._held[event_id] = until
            if self._held and self._thread is None:
                self._thread = threading.Thread(target=self._keep, name="webhook-leases", daemon=True)
                self._thread.start()

    def release(self, event_id: int) -> datetime | None:
        """Stop renewing the lease; the last ``leased_until`` written (None if not held or lost)."""
        with self._lock:
            return self._held.pop(event_id, None)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def renew(self) -> None:
        """Move on every lease with less than half its length left."""
        with self._lock:
            now = utcnow()
            due = {event_id: until for event_id, until in self._held.items() if until - now < self._length / 2}
            if not due:
                return
            until = now + self._length
            try:
                with self._db.transaction() as session:
                                renewed = repository.renew_webhook_leases(session, due, until)
            except Exception as error:  # noqa: BLE001 - the database away: the leases may run out; retried
                log.warning("could not renew %d webhook lease(s): %s", len(due), str(error).splitlines()[0])
                return
            for event_id in due:
                if event_id in renewed:
                    self._held[event_id] = until
                elif self._held.get(event_id) == due[event_id]:
                    # Ran out and another sender has it: this one's outcome will not count.
                    del self._held[event_id]

    def _keep(self) -> None:
        interval = max(self._length.total_seconds() / 5, 0.05)
        while not self._stop.wait(interval):
            self.renew()
