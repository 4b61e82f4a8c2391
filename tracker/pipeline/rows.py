"""Reading inbox rows: what each says (its normalized events, made storable, and what an SES
event says of its message as a whole), without side effects.

The worker (tracker.pipeline.ingest) reads every claimed row through read_row before it
applies any; a rebuild re-reads processed rows through events_of. Permanent says a row can
never be read or stored, with the inbox failure kind to record.
"""
from __future__ import annotations

import base64
import dataclasses
from collections.abc import Sequence

from tracker.db.models import Delivery, DeliveryEvent
from tracker.db.repository.inbox import InboxRow
from tracker.domain import NormalizedEvent, inbox
from tracker.domain.attributes import ATTRIBUTE_TAGS
from tracker.providers import registry
from tracker.providers.acknowledgements import parse as acknowledgements
from tracker.providers.common import storable
from tracker.providers.common.errors import PayloadError, UnreadablePayload
from tracker.providers.ses import parse as ses
from tracker.providers.ses.envelope import EnvelopeError, decode_envelope


class Permanent(Exception):
    """Retrying this row cannot help: its payload is what it is. ``kind``: inbox's failure kind."""

    def __init__(self, message: str, kind: str = inbox.UNMAPPED_SHAPE) -> None:
        super().__init__(message)
        self.kind = kind


@dataclasses.dataclass(frozen=True)
class Reading:
    """What one inbox row says: its events, and what an SES event says of its message as a whole."""

    events: list[NormalizedEvent]
    facts: ses.MessageFacts | None


def events_of(row: InboxRow) -> list[NormalizedEvent]:
    """The normalized events in an inbox row, made storable (no side effects).

    Permanent if the row can never be read or stored.
    """
    return read_row(row).events


def read_row(row: InboxRow) -> Reading:
    """events_of, with the message's facts: each row's body is parsed once (no side effects)."""
    events, facts = _parsed(row)
    return Reading([_storable(event) for event in events], facts)


# What identifies an event must fit its column whole: cut, two ids could become one.
_IDENTITY_WIDTHS = (("message_id", Delivery.message_id.type.length), ("recipient", Delivery.recipient.type.length),
                    ("event_key", DeliveryEvent.event_key.type.length))
# A subtype is free text in a bounded column: cut to it, whichever provider said it (a longer one failed
# the whole event as unstorable, its bounce never shown). The raw event keeps the words whole.
_SUBTYPE_WIDTH = Delivery.bounce_subtype.type.length


def _storable(event: NormalizedEvent) -> NormalizedEvent:
    """``event`` as the database can hold it (tracker.providers.common.storable: ids refused, text cleaned)."""
    for name, width in _IDENTITY_WIDTHS:
        value = getattr(event, name)
        if value is None:
            continue
        if len(value) > width:
            raise Permanent(f"{event.provider} {event.type.value} event: {name} is {len(value)} characters long, "
                             f"past the {width} a {name} may have: {value[:60]!r}...", inbox.UNSTORABLE)
        trouble = storable.problem(value)
        if trouble:
            raise Permanent(f"{event.provider} {event.type.value} event: {name} {trouble}: {value[:60]!r}",
                             inbox.UNSTORABLE)
    return dataclasses.replace(
        event,
        bounce_subtype=storable.text(event.bounce_subtype)[:_SUBTYPE_WIDTH] if event.bounce_subtype
        else event.bounce_subtype,
        diagnostic=storable.text(event.diagnostic) if event.diagnostic else event.diagnostic,
        smtp_action=storable.text(event.smtp_action) if event.smtp_action else event.smtp_action,
        smtp_status=storable.text(event.smtp_status) if event.smtp_status else event.smtp_status,
        details=storable.value(event.details),
    )


def _parsed(row: InboxRow) -> tuple[list[NormalizedEvent], ses.MessageFacts | None]:
    try:
        if row.provider in registry.WEBHOOK_PROVIDERS:
            return registry.parse_webhook(row.provider, webhook_body(row), row.content_type or "",
                                          row.received_at), None
        if row.kind == inbox.ACKNOWLEDGEMENT:
            return acknowledgements.parse(row.body, inbox_id=row.id, provider=row.provider), None
        if row.kind == inbox.RAW:
            return ses.read_message(row.body, fallback_time=row.received_at)
        if row.kind in (inbox.SUBSCRIPTION_CONFIRMATION, inbox.UNSUBSCRIBE_CONFIRMATION):
            return [], None
        envelope = decode_envelope(row.body)
        return ses.read_message(envelope.message, fallback_time=envelope.timestamp)
    except (EnvelopeError, UnreadablePayload) as error:
        raise Permanent(str(error), inbox.PARSE_ERROR) from None
    except PayloadError as error:
        raise Permanent(str(error), inbox.UNMAPPED_SHAPE) from None


def messages_of(group: Sequence[tuple[InboxRow, Reading]]) -> list[tuple[int, ses.MessageFacts]]:
    """(account id, facts) of the messages in these rows: sender, subject, attributes.

    SES says them in ``mail`` (tags); webhook providers echo the attributes the compatible
    APIs filter on in each event (Infobip's bulkId, campaignReferenceId, applicationId,
    entityId; SendCloud's labelId, labelName), which their parsers keep in the details.
    """
    found = {}
    for row, reading in group:
        if reading.facts is not None:
            found.setdefault((row.account_id, reading.facts.message_id), reading.facts)
    for row, event in ((row, event) for row, reading in group for event in reading.events):
        if row.provider not in registry.WEBHOOK_PROVIDERS or (row.account_id, event.message_id) in found:
            continue
        attributes = {name: event.details[name] for name in ATTRIBUTE_TAGS
                      if isinstance(event.details.get(name), str) and event.details[name]}
        if attributes:
            found[(row.account_id, event.message_id)] = ses.MessageFacts(event.message_id, None, None, attributes)
    return [(account_id, _storable_facts(facts)) for (account_id, message_id), facts in sorted(found.items())
            if not storable.problem(message_id)]


def _storable_facts(facts: ses.MessageFacts) -> ses.MessageFacts:
    return dataclasses.replace(
        facts,
        from_address=storable.text(facts.from_address) if facts.from_address else facts.from_address,
        subject=storable.text(facts.subject) if facts.subject else facts.subject,
        attributes=storable.value(facts.attributes),
    )


def webhook_body(row: InboxRow) -> bytes:
    """The bytes a webhook provider sent (bodies that were not UTF-8 are kept base64-encoded)."""
    if row.kind == inbox.WEBHOOK_BASE64:
        return base64.b64decode(row.body)
    return row.body.encode("utf-8")
