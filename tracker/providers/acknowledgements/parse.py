"""Acknowledgements, recorded by the tracker itself as inbox rows so that replay and rebuild keep them. Pure."""
from __future__ import annotations

import json
from datetime import datetime

from tracker.providers.common import bounded_json
from tracker.domain import EventType, NormalizedEvent
from tracker.providers.common.errors import PayloadError
from tracker.providers.common.timestamps import parse_timestamp

PROVIDER = "tracker"


def body(*, message_id: str, recipient: str, by: str, at: datetime, note: str | None = None) -> str:
    """The inbox body recording that ``by`` acknowledged the delivery at ``at``."""
    return json.dumps({"message_id": message_id, "recipient": recipient, "by": by, "at": at.isoformat(),
                       "note": note}, sort_keys=True)


def parse(text: str, *, inbox_id: int, provider: str) -> list[NormalizedEvent]:
    try:
        record = bounded_json.loads(text)
        return [NormalizedEvent(
            provider=provider,
            message_id=record["message_id"],
            recipient=record["recipient"],
            type=EventType.ACKNOWLEDGED,
            occurred_at=parse_timestamp(record["at"]),
            event_key=f"tracker:acknowledged:{inbox_id}",
            details={"by": record["by"], **({"note": record["note"]} if record.get("note") else {})},
        )]
    except (ValueError, KeyError, TypeError) as error:
        raise PayloadError(f"not an acknowledgement record: {error}") from None
