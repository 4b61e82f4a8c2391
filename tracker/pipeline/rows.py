"""Reading inbox rows: what each says (its normalized events, made storable, and what an SES
event says of its message as a whole), without side effects.

The worker (tracker.pipeline.ingest) reads every claimed row through read_row before it
applies any; a rebuild re-reads processed rows through it too. Permanent says a row can
never be read or stored, with the inbox failure kind to record.

A batch (a SendGrid array, Infobip's results, a Postmark array) is read element by element
(tracker.providers.common.batch): an element its parser cannot read, or whose event the
database cannot hold, is set aside in Reading.unreadable with its index, kind and reason, and
the other elements' events stand. Only when no element can be read does the row fail whole.
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
from tracker.providers.common.batch import Batch, Unreadable, describe
from tracker.providers.common.errors import PayloadError, UnreadablePayload
from tracker.providers.ses import parse as ses
from tracker.providers.ses.envelope import EnvelopeError, decode_envelope


class Permanent(Exception):
    """Retrying this row cannot help: its payload is what it is. ``kind``: inbox's failure kind."""

    def __init__(self, message: str, kind: str = inbox.UNMAPPED_SHAPE) -> None:
        super().__init__(message)
        self.kind = kind


@dataclasses.dataclass(frozen=True)
class ElementFailure:
    """An element of a batch that cannot be applied: its index, the inbox failure kind, why."""

    index: int
    kind: str
    reason: str


@dataclasses.dataclass(frozen=True)
class Reading:
    """What one inbox row says: its events, and what an SES event says of its message as a whole.

    ``unreadable``: the elements of a batch whose events are not among ``events`` (their row is
    applied in part, then failed: Reading.failure); ``size``: the batch's elements (0: no batch).
    """

    events: list[NormalizedEvent]
    facts: ses.MessageFacts | None
    unreadable: tuple[ElementFailure, ...] = ()
    size: int = 0

    def failure(self) -> Permanent | None:
        """Why the row fails once its readable events are applied (None: it has nothing unread):
        the unreadable elements, each by index and reason, with the first one's kind."""
        if not self.unreadable:
            return None
        text = describe([Unreadable(item.index, item.reason) for item in self.unreadable], self.size)
        applied = self.size - len(self.unreadable)
        return Permanent(f"{text} (the other {applied} were applied; a replay after a fix applies the rest)",
                         self.unreadable[0].kind)


def events_of(row: InboxRow) -> list[NormalizedEvent]:
    """The normalized events in an inbox row, made storable (no side effects): those of a batch's
    readable elements when some cannot be read.

    Permanent if the row can never be read or stored.
    """
    return read_row(row).events


def read_row(row: InboxRow) -> Reading:
    """events_of, with the message's facts and the unreadable elements of a batch: each row's
    body is parsed once (no side effects). Permanent if no element of it can be applied."""
    batch, facts = _parsed(row)
    if batch.size is None:
        return Reading([_storable(event) for event in batch.events], facts)
    failures = {item.index: ElementFailure(item.index, inbox.UNMAPPED_SHAPE, item.reason) for item in batch.unreadable}
    stored: dict[int, list[NormalizedEvent]] = {}
    for origin, event in zip(batch.origins, batch.events, strict=True):
        if origin in failures:
            continue  # an element is applied whole or not at all
        try:
            stored.setdefault(origin, []).append(_storable(event))
        except Permanent as error:
            failures[origin] = ElementFailure(origin, error.kind, str(error))
            stored.pop(origin, None)
    unreadable = tuple(failures[index] for index in sorted(failures))
    if unreadable and len(unreadable) == batch.size:
        # Nothing in it can be applied: the row fails whole, as any unreadable body does.
        first = unreadable[0]
        raise Permanent(first.reason if batch.size == 1 else
                        describe([Unreadable(i.index, i.reason) for i in unreadable], batch.size), first.kind)
    events = [event for index in sorted(stored) for event in stored[index]]
    return Reading(events, facts, unreadable, batch.size)


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


def _parsed(row: InboxRow) -> tuple[Batch, ses.MessageFacts | None]:
    try:
        if row.provider in registry.WEBHOOK_PROVIDERS:
            return registry.read_webhook(row.provider, webhook_body(row), row.content_type or "",
                                         row.received_at), None
        if row.kind == inbox.ACKNOWLEDGEMENT:
            return Batch.single(acknowledgements.parse(row.body, inbox_id=row.id, provider=row.provider)), None
        if row.kind == inbox.RAW:
            return _single(*ses.read_message(row.body, fallback_time=row.received_at))
        if row.kind in (inbox.SUBSCRIPTION_CONFIRMATION, inbox.UNSUBSCRIBE_CONFIRMATION):
            return Batch.single([]), None
        envelope = decode_envelope(row.body)
        return _single(*ses.read_message(envelope.message, fallback_time=envelope.timestamp))
    except (EnvelopeError, UnreadablePayload) as error:
        raise Permanent(str(error), inbox.PARSE_ERROR) from None
    except PayloadError as error:
        raise Permanent(str(error), inbox.UNMAPPED_SHAPE) from None


def _single(events: list[NormalizedEvent], facts: ses.MessageFacts | None) -> tuple[Batch, ses.MessageFacts | None]:
    return Batch.single(events), facts


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
