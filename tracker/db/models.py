"""SQLAlchemy 2.0 models: accounts and keys, inbound sources, the raw-event inbox, deliveries."""
from __future__ import annotations

from datetime import datetime, UTC
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tracker.domain.status import FINAL_STATUSES


class UTCDateTime(TypeDecorator):
    """Stores naive UTC, returns aware UTC: SQLite keeps no zone, PostgreSQL must agree."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


# SQLite gives INTEGER PRIMARY KEY autoincrement only to plain INTEGER columns.
Id = BigInteger().with_variant(Integer(), "sqlite")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Retention in days; None keeps forever. Unresolved failed events are never purged.
    raw_retention_days: Mapped[int | None] = mapped_column(Integer)
    delivery_retention_days: Mapped[int | None] = mapped_column(Integer)


class ApiKey(Base):
    """An account's API key: the public ``key_id`` finds it, only a hash of the secret is kept."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16), default="application", server_default="application")
    # The whole key encrypted under TRACKER_SECRET_KEY, only so that JWTs signed with it
    # (HS256, Elevate style) can be verified; authentication itself uses the hash.
    sealed_key: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Source(Base):
    """An inbound source: binds a provider's pushes, under an unguessable hook token, to an account."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    # SNS: the TopicArns accepted ("*" accepts any); empty means none yet.
    topic_arns: Mapped[list[str]] = mapped_column(JSON, default=list)
    secret: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# The predicate of ix_deliveries_account_unreported; a query uses that index only if its
# WHERE clause contains these very conditions (compat_infobip's reports query does).
UNREPORTED = ("status_sequence > reported_sequence AND status IN ("
              + ", ".join(f"'{status.value}'" for status in FINAL_STATUSES) + ")")


class InboxEvent(Base):
    """A raw event exactly as the provider sent it: the append-only log everything derives from."""

    __tablename__ = "inbox_events"
    __table_args__ = (
        UniqueConstraint("source_id", "dedupe_key", name="uq_inbox_events_source_dedupe"),
        # The rows not processed (pending, failed, discarded), across accounts and per account:
        # the worker's claim of pending rows in arrival order, the operators' lists and counts.
        # Processed rows are left out, so that the worker's pending -> processed UPDATE writes
        # no entry in them (migrations 0013 and 0014 say who needs each).
        Index("ix_inbox_events_state_id", "state", "id", postgresql_where=text("state <> 'processed'"),
              sqlite_where=text("state <> 'processed'")),
        Index("ix_inbox_events_account_state_id", "account_id", "state", "id",
              postgresql_where=text("state <> 'processed'"), sqlite_where=text("state <> 'processed'")),
        Index("ix_inbox_events_received", "received_at"),
        # The dashboard's events per provider and hour/day of an account: an index-only scan.
        Index("ix_inbox_events_account_received", "account_id", "received_at", "provider"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    # None for events the tracker itself records (an acknowledgement), which no source sent.
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id"))
    provider: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(40))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str | None] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The receiving HTTP request's id (X-Request-Id), or the SQS MessageId: in the log lines
    # of the request and of the worker that applies the row.
    request_id: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    failure_kind: Mapped[str | None] = mapped_column(String(20))  # see tracker.domain.inbox
    first_failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # backoff after a transient failure
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    replay_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    replayed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    discarded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    discarded_by: Mapped[str | None] = mapped_column(String(200))
    discard_reason: Mapped[str | None] = mapped_column(Text)


class ReplayToken(Base):
    """A one-time token a provider put in a signed request (Mailgun, SendCloud): accepted once per source."""

    __tablename__ = "replay_tokens"
    __table_args__ = (UniqueConstraint("source_id", "token", name="uq_replay_tokens_source_token"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    token: Mapped[str] = mapped_column(String(200))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DashboardSignout(Base):
    """A dashboard session signed out. The session is a signed cookie: without this row a copy of it
    taken before the sign-out would open the dashboard until it expires. Kept until then."""

    __tablename__ = "dashboard_signouts"

    sid: Mapped[str] = mapped_column(String(64), primary_key=True)  # the session's random id
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when the session would have ended anyway


class SnsSubscription(Base):
    """What the tracker did with an SNS topic's subscription handshake."""

    __tablename__ = "sns_subscriptions"
    __table_args__ = (UniqueConstraint("source_id", "topic_arn", name="uq_sns_subscriptions_source_topic"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    topic_arn: Mapped[str] = mapped_column(String(300))
    state: Mapped[str] = mapped_column(String(20))  # confirmed | unsubscribed
    subscription_arn: Mapped[str | None] = mapped_column(String(400))
    inbox_event_id: Mapped[int | None] = mapped_column(ForeignKey("inbox_events.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Delivery(Base):
    """One (message, recipient): its current status is the winner of its history (see tracker.domain.state)."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("account_id", "message_id", "recipient", name="uq_deliveries_account_message_recipient"),
        # Keyset pagination of the native list, plain and per status.
        Index("ix_deliveries_account_updated", "account_id", "updated_at", "id"),
        Index("ix_deliveries_account_status_updated", "account_id", "status", "updated_at", "id"),
        Index("ix_deliveries_account_recipient", "account_id", "recipient"),
        Index("ix_deliveries_account_created", "account_id", "created_at", "id"),
        # The send time the Infobip and SendCloud styles show, filter and order by.
        Index("ix_deliveries_account_submitted", "account_id", "submitted_at", "id"),
        # Elevate's default order (id) within an account.
        Index("ix_deliveries_account_id", "account_id", "id"),
        # Infobip-style pull reports: only the final deliveries not yet reported, oldest change
        # first, so a pull never reads past the (many) rows earlier pulls handed out.
        Index("ix_deliveries_account_unreported", "account_id", "updated_at", "id",
              postgresql_where=text(UNREPORTED), sqlite_where=text(UNREPORTED)),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    provider: Mapped[str] = mapped_column(String(32))
    message_id: Mapped[str] = mapped_column(String(300))
    recipient: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(16))
    precedence: Mapped[str] = mapped_column(Text, default="")
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    bounce_type: Mapped[str | None] = mapped_column(String(16))
    bounce_subtype: Mapped[str | None] = mapped_column(String(64))
    diagnostic: Mapped[str | None] = mapped_column(Text)
    # The winner's DSN facts (RFC 3464 action, RFC 3463 status code), as its provider said them.
    smtp_action: Mapped[str | None] = mapped_column(Text)
    smtp_status: Mapped[str | None] = mapped_column(Text)
    # The winner's event type (a reject and a rendering failure are both ERROR).
    status_type: Mapped[str | None] = mapped_column(String(32))
    # The winning failure of the history (tracker.domain.DeliveryState.failure): what an
    # ACKNOWLEDGED delivery renders as where a style has no acknowledged status. Kept by
    # the same greatest-precedence rule as the status, so no view reads the history.
    failure_status: Mapped[str | None] = mapped_column(String(16))
    failure_precedence: Mapped[str | None] = mapped_column(Text)
    failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failure_type: Mapped[str | None] = mapped_column(String(32))
    failure_bounce_type: Mapped[str | None] = mapped_column(String(16))
    failure_bounce_subtype: Mapped[str | None] = mapped_column(String(64))
    failure_diagnostic: Mapped[str | None] = mapped_column(Text)
    failure_smtp_action: Mapped[str | None] = mapped_column(Text)
    failure_smtp_status: Mapped[str | None] = mapped_column(Text)
    events_count: Mapped[int] = mapped_column(Integer, default=0)
    # Bumped on every status change, so a subscriber can drop changes that arrive late.
    status_sequence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Milestones (tracker.domain.milestones): the earliest send time a provider stated, the
    # first delivery, the first event of any kind; when the application registered it.
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    registered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the message was sent, from those (tracker.domain.submitted_at): what APIs show as
    # the send time. Never when the tracker first heard (that is created_at).
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Infobip-style pull reports: the status_sequence last handed out, so each final report
    # is returned once per account.
    reported_sequence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Engagement: aggregates of the delivery's distinct open and click events.
    opens_count: Mapped[int] = mapped_column(Integer, default=0)
    first_opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    clicks_count: Mapped[int] = mapped_column(Integer, default=0)
    first_clicked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_clicked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_clicked_link: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeliveryEvent(Base):
    """One distinct event in a delivery's history, keyed by the delivery and the event's semantic key."""

    __tablename__ = "delivery_events"
    __table_args__ = (
        UniqueConstraint(
            "account_id", "message_id", "recipient", "event_key", name="uq_delivery_events_identity"
        ),
        # An address's recent events across messages (the soft-bounce policy counts them).
        Index("ix_delivery_events_account_recipient_time", "account_id", "recipient", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    message_id: Mapped[str] = mapped_column(String(300))
    recipient: Mapped[str] = mapped_column(String(320))
    event_key: Mapped[str] = mapped_column(String(400))
    type: Mapped[str] = mapped_column(String(32))
    status: Mapped[str | None] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    bounce_type: Mapped[str | None] = mapped_column(String(16))
    bounce_subtype: Mapped[str | None] = mapped_column(String(64))
    diagnostic: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the provider's stated send time
    smtp_action: Mapped[str | None] = mapped_column(Text)
    smtp_status: Mapped[str | None] = mapped_column(Text)
    inbox_event_id: Mapped[int | None] = mapped_column(ForeignKey("inbox_events.id"), index=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Suppression(Base):
    """An address an account should not send to any more, with why and from which event."""

    __tablename__ = "suppressions"
    __table_args__ = (
        UniqueConstraint("account_id", "address", name="uq_suppressions_account_address"),
        Index("ix_suppressions_account_created", "account_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    address: Mapped[str] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(String(32))  # see tracker.domain.suppression.Reason
    provider: Mapped[str] = mapped_column(String(32))
    message_id: Mapped[str] = mapped_column(String(300))
    event_key: Mapped[str] = mapped_column(String(400))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SuppressionRemoval(Base):
    """The audit record of a suppression an API client removed."""

    __tablename__ = "suppression_removals"
    __table_args__ = (Index("ix_suppression_removals_account_address", "account_id", "address"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    address: Mapped[str] = mapped_column(String(320))
    removed_by: Mapped[str] = mapped_column(String(64))  # the API key id that asked
    removed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    suppression: Mapped[dict[str, Any]] = mapped_column(JSON)  # what was removed


class OperatorJob(Base):
    """A long operator job (replay, rebuild): where it got to, so an interrupted run resumes."""

    __tablename__ = "operator_jobs"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    params: Mapped[str] = mapped_column(Text)  # canonical JSON: the same job has the same params
    phase: Mapped[str] = mapped_column(String(20), default="started")
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)  # last inbox id done
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class JobItem(Base):
    """The inbox rows a job must go through, fixed when it starts (a rebuild's scope)."""

    __tablename__ = "operator_job_items"

    job_id: Mapped[int] = mapped_column(ForeignKey("operator_jobs.id", ondelete="CASCADE"), primary_key=True)
    inbox_event_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)


class WebhookSubscription(Base):
    """An application's URL for status changes of its account's deliveries."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    # Kept as is: it signs every request (shown to the owner once, at creation).
    secret: Mapped[str] = mapped_column(String(100))
    # After a rotation, the secret it replaced also signs until previous_secret_expires_at, so a
    # receiver can switch secrets whenever it deploys (the signature header then holds both values).
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    statuses: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty: every status
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookEvent(Base):
    """The outbox: one POST owed to one subscription, written in the transaction that changed the status."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        UniqueConstraint("subscription_id", "delivery_id", "sequence", name="uq_webhook_events_change"),
        Index("ix_webhook_events_due", "state", "next_attempt_at"),
        Index("ix_webhook_events_subscription_state", "subscription_id", "state", "id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"))
    delivery_id: Mapped[int | None] = mapped_column(BigInteger)  # None for a test event
    type: Mapped[str] = mapped_column(String(40))
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    payload: Mapped[str] = mapped_column(Text)  # the exact body sent (and signed)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sending|delivered|parked
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Retries stop (the event is parked) once this is older than the retry window; a
    # replay starts a new window.
    retry_window_start: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    parked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebhookAttempt(Base):
    """One POST of a webhook event: what the subscriber answered, how fast, or what went wrong."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    webhook_event_id: Mapped[int] = mapped_column(ForeignKey("webhook_events.id", ondelete="CASCADE"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)


class Message(Base):
    """What is known about a sent message beyond its deliveries: sender, subject, attributes.

    Filled from SES message tags (and, later, by applications registering messages); the
    compatible APIs filter on the attributes (billRunType, customerId, labelId, ...).
    """

    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("account_id", "message_id", name="uq_messages_account_message"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    message_id: Mapped[str] = mapped_column(String(300))
    from_address: Mapped[str | None] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(Text)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Registered by the application (POST /api/v1/messages); None when only events told us.
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    attachments_metadata: Mapped[list[Any] | None] = mapped_column(JSON)
    cc: Mapped[list[str] | None] = mapped_column(JSON)
    bcc: Mapped[list[str] | None] = mapped_column(JSON)
    registered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeliveryStat(Base):
    """How many deliveries are in each status, per account, sending domain, provider and send hour.

    Kept up to date in the transaction that changes a delivery (tracker.db.repository.stats),
    so the statistics agree with the deliveries exactly; ``outcome`` is what the delivery
    counts as for reputation (tracker.domain.reputation.Outcome).
    """

    __tablename__ = "delivery_stats"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)  # the delivery's send hour
    domain: Mapped[str] = mapped_column(String(253), primary_key=True)  # "" when the From is unknown
    provider: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(16), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class ReputationThresholds(Base):
    """An account's own reputation thresholds (fractions); none: SES's defaults."""

    __tablename__ = "reputation_thresholds"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    bounce_warning: Mapped[float] = mapped_column(Float)
    bounce_at_risk: Mapped[float] = mapped_column(Float)
    complaint_warning: Mapped[float] = mapped_column(Float)
    complaint_at_risk: Mapped[float] = mapped_column(Float)
    min_sent: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReputationState(Base):
    """The last evaluated reputation of an account ("*") or one of its sending domains: a change is a crossing."""

    __tablename__ = "reputation_states"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    scope: Mapped[str] = mapped_column(String(253), primary_key=True)
    bounce_state: Mapped[str] = mapped_column(String(16))
    complaint_state: Mapped[str] = mapped_column(String(16))
    bounce_rate: Mapped[float] = mapped_column(Float, default=0.0)
    complaint_rate: Mapped[float] = mapped_column(Float, default=0.0)
    sent: Mapped[int] = mapped_column(BigInteger, default=0)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When an evaluation last found new values (one finding what the row holds does not write it).
    evaluated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
