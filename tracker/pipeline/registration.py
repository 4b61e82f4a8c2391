"""Applications registering messages: the attributes the compatible APIs filter on, and PENDING
deliveries for each recipient before the provider says anything.

A message registered without the provider's message id gets a placeholder id; attaching
the real one later (PATCH) renames its deliveries, merging with any that events for the
real id already created. Registration before or after the provider's events gives the
same deliveries and attributes.
"""
from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from tracker.db import repository
from tracker.domain import INITIAL, normalize_address, normalize_message_id, submitted_at
from tracker.db.models import Message, utcnow
from tracker.domain.attributes import ATTRIBUTE_TAGS

PLACEHOLDER = "registered-"


def lock_for(session: Session, account_id: int, specs: list[dict[str, Any]]) -> None:
    """Take the messages a request registers all at once, before registering any (in one order, as
    a worker takes them: one message after the other, a worker could wait for this registration
    while it waits for the worker)."""
    repository.lock_messages(session, [(account_id, normalize_message_id(spec["message_id"]))
                                       for spec in specs if spec.get("message_id")])


def register(session: Session, account_id: int, spec: dict[str, Any]) -> Message:
    now = utcnow()
    message_id = normalize_message_id(spec.get("message_id") or "") or f"{PLACEHOLDER}{uuid.uuid4()}"
    attributes = {name: str(spec[name]) for name in ATTRIBUTE_TAGS if spec.get(name) is not None}
    # The message first (a worker counting a delivery of it meanwhile would miss its new sender),
    # then its deliveries, locked, as the statistics count them: the registration may give them a sender.
    repository.lock_messages(session, [(account_id, message_id)])
    before = repository.message_stats_snapshot(session, account_id, [message_id])
    if spec.get("tags"):
        attributes["tags"] = spec["tags"]
    message = repository.merge_message(
        session, account_id, message_id, now, override=True, attributes=attributes,
        from_address=spec.get("from"), subject=spec.get("subject"), params=spec.get("params"),
        attachments_metadata=spec.get("attachments_metadata"), cc=spec.get("cc"), bcc=spec.get("bcc"),
        registered_at=now,
    )
    recipients = [normalize_address(r) for r in spec["recipients"]]
    repository.merge_deliveries(session, [
        repository.DeliveryChange(account_id=account_id, provider=spec.get("provider") or "unknown",
                                  message_id=message_id, recipient=recipient, state=INITIAL, new_events=0,
                                  registered_at=now)
        for recipient in sorted(set(recipients))
    ], now)
    repository.record_status_change(session, before,
                                    repository.message_stats_snapshot(session, account_id, [message_id], lock=False))
    return message


def attach_provider_id(session: Session, message: Message, provider_message_id: str) -> Message:
    """Give a message registered without one its provider message id; merges with what events made."""
    provider_message_id = normalize_message_id(provider_message_id)
    if message.message_id == provider_message_id:
        return message
    if not message.message_id.startswith(PLACEHOLDER):
        raise ValueError(f"message {message.id} already has the provider message id {message.message_id}")
    old, account_id, row_id = message.message_id, message.account_id, message.id
    repository.lock_messages(session, [(account_id, old), (account_id, provider_message_id)])
    # Read again under the locks: a request that held them (the same PATCH sent twice, a retry) may have
    # attached an id meanwhile, and going on from the message as read before would delete and re-create it.
    if repository.message_of_account(session, account_id, row_id, fresh=True) is None:
        # Merged into the row events made for the real id: that one is the message now.
        merged = repository.message_with_id(session, account_id, provider_message_id)
        if merged is None:
            raise ValueError(f"message {row_id} was attached to another provider message id meanwhile")
        return merged
    if message.message_id != old:
        return attach_provider_id(session, message, provider_message_id)  # done (or refused) as if sent after
    before = repository.message_stats_snapshot(session, account_id, [old, provider_message_id])
    renamed = _attach(session, message, old, provider_message_id)
    repository.record_status_change(session, before, repository.message_stats_snapshot(
        session, message.account_id, [provider_message_id], lock=False))
    return renamed


def _attach(session: Session, message: Message, old: str, provider_message_id: str) -> Message:
    account_id = message.account_id
    surviving = {d.recipient: d for d in repository.message_deliveries(session, account_id, provider_message_id,
                                                                        for_update=True)}
    existing = set(surviving)
    # Those deliveries learn when the message was registered, as if registered first.
    for delivery in repository.message_deliveries(session, account_id, old, recipients=existing):
        kept = surviving[delivery.recipient]
        if delivery.registered_at and (kept.registered_at is None or delivery.registered_at < kept.registered_at):
            kept.registered_at = delivery.registered_at
            kept.submitted_at = submitted_at(kept.sent_at, kept.registered_at, kept.first_event_at)
    # Deliveries under the placeholder have no events (nothing could name them): where
    # events already made a delivery for the real id, that one stays and the placeholder goes.
    repository.delete_message_deliveries(session, account_id, old, existing)
    repository.rename_message_deliveries(session, account_id, old, provider_message_id, utcnow())
    other = repository.message_with_id(session, account_id, provider_message_id)
    if other is None:
        message.message_id = provider_message_id
        session.flush()
        return message
    # Events created a row for the real id (from SES tags): the registration's values win.
    snapshot = {name: getattr(message, name) for name in
                ("from_address", "subject", "params", "attachments_metadata", "cc", "bcc", "registered_at")}
    attributes = dict(message.attributes or {})
    session.delete(message)
    session.flush()
    return repository.merge_message(session, other.account_id, provider_message_id, utcnow(), override=True,
                                    attributes=attributes, **snapshot)
