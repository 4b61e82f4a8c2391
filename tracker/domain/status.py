"""Canonical delivery statuses (DESIGN section 3) and bounce types."""
from __future__ import annotations

import enum


class Status(str, enum.Enum):
    """A delivery's canonical status; ``rank`` orders them for the state machine."""

    PENDING = "PENDING"
    SENT = "SENT"
    RETRY = "RETRY"
    DELIVERED = "DELIVERED"
    OPENED = "OPENED"
    ERROR = "ERROR"
    BOUNCED = "BOUNCED"
    COMPLAINT = "COMPLAINT"
    ACKNOWLEDGED = "ACKNOWLEDGED"

    @property
    def rank(self) -> int:
        return _RANK[self]


# The order is the design's precedence: a later stage of a message's life outranks an
# earlier one whatever order the events arrive in (a late DeliveryDelay never turns
# DELIVERED back into RETRY), and failures reported after delivery (asynchronous bounces,
# complaints) outrank the delivery, as AWS advises.
_RANK = {status: rank for rank, status in enumerate(Status)}

# Statuses past which the provider is not working on the delivery any more (what pull
# report APIs hand out): delivered, engaged with, failed, or acknowledged.
FINAL_STATUSES = tuple(status for status in Status if status.rank >= Status.DELIVERED.rank)


class BounceType(str, enum.Enum):
    PERMANENT = "PERMANENT"
    TRANSIENT = "TRANSIENT"
    UNDETERMINED = "UNDETERMINED"
