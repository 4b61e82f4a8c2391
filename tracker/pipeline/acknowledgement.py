"""Acknowledging a failed delivery: recorded in the inbox like a provider event, applied at once."""
from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from tracker.db import repository
from tracker.db.models import utcnow
from tracker.pipeline import ingest
from tracker.domain import inbox
from tracker.providers.acknowledgements import parse as acknowledgements

if TYPE_CHECKING:  # only named: callers hand the services in (tracker.services is above this layer)
    from tracker.services import Services


def acknowledge(app: Services, account_id: int, message_id: str, recipient: str, *, by: str,
                note: str | None, request_id: str | None = None) -> None:
    """Record ``by``'s acknowledgement of the delivery in the inbox and apply it through the worker path.

    Recorded like a provider event, so a replay or a rebuild from the inbox keeps it; applied
    at once, so the caller reads the new status straight after. Whether the delivery may be
    acknowledged is the caller's check (tracker.domain.can_acknowledge). ``request_id``: the
    asking request's id, kept on the inbox row as a receiver keeps its own.
    """
    record = acknowledgements.body(message_id=message_id, recipient=recipient, by=by, at=utcnow(), note=note)
    with app.db.engine.begin() as connection:
        inbox_id = repository.store_inbox_event(
            connection, source_id=None, account_id=account_id, provider=acknowledgements.PROVIDER,
            kind=inbox.ACKNOWLEDGEMENT, dedupe_key=f"ack:{uuid.uuid4()}", body=record,
            request_id=request_id)
    ingest.process_rows(app.db, [inbox_id], app.confirmer, app.settings)
