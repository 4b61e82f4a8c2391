"""Putting an authenticated event into the inbox: shared by the HTTP receivers and the SQS poller.

Everything here happens before the sender hears success: decode, verify, check the topic,
insert and commit. A refusal is an intake.Refused naming why; the HTTP receivers answer it
in the API's error shape (tracker.http.receivers.refusals), the SQS poller logs it.
"""
from __future__ import annotations

import dataclasses
import hashlib
from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError

from tracker.domain import inbox
from tracker.db import raw, repository
from tracker.providers.common import storable
from tracker.providers.ses.auth import CertificateUnavailable, SignatureError, verify
from tracker.providers.ses.envelope import EnvelopeError, decode_envelope
from tracker.db.sources import SourceInfo

if TYPE_CHECKING:  # only named: callers hand the services in (tracker.services is above this layer)
    from tracker.services import Services


# Why intake refuses an event (Refused.reason).
MALFORMED = "malformed"  # not an SNS envelope
INVALID_SIGNATURE = "invalid_signature"
CERTIFICATE_UNAVAILABLE = "certificate_unavailable"  # the signing certificate could not be fetched: passing
TOPIC_NOT_ALLOWED = "topic_not_allowed"
REPLAYED = "replayed"  # a one-time token seen before, with another body


class Refused(Exception):
    """Intake will not store an event: ``reason`` (one of the words above), ``detail`` explains,
    ``passing`` says the same event may be accepted later (a retry can help)."""

    def __init__(self, reason: str, detail: str, *, passing: bool = False) -> None:
        super().__init__(detail)
        self.reason, self.detail, self.passing = reason, detail, passing

class SourceChanged(Exception):
    """The source's token or secret changed after the request was checked against a cached copy."""


@dataclasses.dataclass(frozen=True)
class Stored:
    inbox_id: int | None  # None: this source already had the event (a redelivery)
    dedupe_key: str

    @property
    def duplicate(self) -> bool:
        return self.inbox_id is None


def accept_sns(services: Services, source: SourceInfo, text: str, *, request_id: str | None = None,
               check_source: bool = False) -> Stored:
    """Verify an SNS envelope (HTTP body or SQS message body) and store it (with ``request_id``;
    ``check_source``: see store)."""
    try:
        envelope = decode_envelope(text)
    except EnvelopeError as error:
        raise Refused(MALFORMED, str(error)) from None
    try:
        verify(envelope.fields, services.certificates)
    except SignatureError as error:
        raise Refused(INVALID_SIGNATURE, str(error)) from None
    except CertificateUnavailable as error:
        raise Refused(CERTIFICATE_UNAVAILABLE, str(error), passing=True) from None
    if not source.allows_topic(envelope.topic_arn):
        raise Refused(TOPIC_NOT_ALLOWED, f"{envelope.topic_arn} is not allowed for this source")
    return store(services, source, kind=envelope.kind, dedupe_key=envelope.message_id, body=text,
                 request_id=request_id, check_source=check_source)


def accept_raw_ses(services: Services, source: SourceInfo, text: str, *, request_id: str | None = None) -> Stored:
    """Store an SES message that came without an envelope (SQS raw message delivery).

    No signature exists to check: such bodies are only accepted where the channel itself
    is authenticated (an IAM-protected queue), never over HTTP. SNS may deliver the same
    message twice with nothing but its content in common, so the content is the key.
    """
    key = "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
    return store(services, source, kind=inbox.RAW, dedupe_key=key, body=text, request_id=request_id)


def kept_content_type(media_type: str) -> str:
    """What the inbox keeps of a request's media type, a hint to the parsers and never trusted
    (provider-formats §7): cut to the column's width and cleaned (storable.text), not left to
    fail the insert, which the receiver would answer 503 and the sender retry for ever."""
    return storable.text(media_type)[:repository.CONTENT_TYPE_WIDTH]


def store(services: Services, source: SourceInfo, *, kind: str, dedupe_key: str, body: str,
          content_type: str | None = None, replay_token: str | None = None, request_id: str | None = None,
          check_source: bool = False) -> Stored:
    """Insert and commit one raw event (idempotently), refusing a replay token seen before.

    ``request_id``: the receiving request's id (or the SQS MessageId), kept on the row.
    ``check_source``: store only while the source still has the token and secret of
    ``source`` (a cached copy); SourceChanged if it no longer has.
    """
    guard = {"source_token": source.token, "source_secret": source.secret} if check_source else {}
    try:
        with _transaction(services, statements=1 if replay_token is None else 2) as connection:
            if replay_token is not None:
                repository.remember_replay_token(connection, source.id, replay_token)
            inbox_id = repository.store_inbox_event(
                connection, source_id=source.id, account_id=source.account_id, provider=source.provider,
                kind=kind, dedupe_key=dedupe_key, body=body, content_type=content_type, request_id=request_id,
                **guard,
            )
    except IntegrityError:
        # Only the replay-token insert can conflict (the inbox insert ignores duplicates).
        # The very same body again is the provider retrying a request whose answer it
        # lost: already stored, so it hears success. A different body under a used token
        # is a replay of someone else's signature.
        with services.db.engine.connect() as connection:
            if repository.inbox_has(connection, source.id, dedupe_key):
                return Stored(None, dedupe_key)
        raise Refused(REPLAYED, "this request's one-time token was already used") from None
    if inbox_id is None and check_source:
        # Nothing inserted: a duplicate, or the source is not what the request was checked against.
        with services.db.engine.connect() as connection:
            if not repository.source_still_is(connection, source.id, source.token, source.secret):
                raise SourceChanged(source.id)
    return Stored(inbox_id, dedupe_key)


def _transaction(services: Services, statements: int):
    """A DBAPI connection on PostgreSQL (the lean path; one statement: a kept one, in autocommit, one
    round trip instead of BEGIN, INSERT, COMMIT), a Core transaction elsewhere."""
    engine = services.db.engine
    if engine.dialect.name != "postgresql":
        return engine.begin()
    return services.db.statement() if statements == 1 else raw.transaction(engine)
