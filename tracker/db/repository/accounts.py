"""Accounts, API keys and inbound sources."""
from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from tracker.db import keys
from tracker.db.models import Account, ApiKey, Source, utcnow

__all__ = [
    "AccountSummary",
    "Caller",
    "account_summaries",
    "all_sources",
    "set_source_secret",
    "source_by_id",
    "account_by_name",
    "account_name",
    "accounts_with_retention",
    "allow_topic",
    "caller_for_key",
    "create_account",
    "create_api_key",
    "create_source",
    "keys_of",
    "KeyRecord",
    "live_key",
    "revoke_key",
    "sealed_key",
    "source_by_token",
    "set_retention",
    "sources_of",
]


def create_account(session: Session, name: str) -> Account:
    account = Account(name=name)
    session.add(account)
    session.flush()
    return account


def account_by_name(session: Session, name: str) -> Account | None:
    return session.scalar(select(Account).where(Account.name == name))


def account_name(session: Session, account_id: int) -> str:
    """The name of the account ``account_id`` (which must exist)."""
    return session.get(Account, account_id).name


@dataclasses.dataclass(frozen=True)
class Caller:
    """Who an authenticated API request comes from."""

    account_id: int
    key_id: str
    role: str = "application"

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"


def caller_for_key(session: Session, presented: str) -> Caller | None:
    """The account (and key id) a presented API key belongs to, or None (unknown, malformed, revoked)."""
    parts = keys.split(presented)
    if parts is None:
        return None
    key_id, secret = parts
    row = session.execute(
        select(ApiKey.account_id, ApiKey.secret_hash, ApiKey.role).where(
            ApiKey.key_id == key_id, ApiKey.revoked_at.is_(None)
        )
    ).first()
    # Compare against a dummy hash when the id is unknown so both paths cost the same.
    stored = row.secret_hash if row else "0" * 64
    return Caller(row.account_id, key_id, row.role) if keys.matches(secret, stored) and row else None


@dataclasses.dataclass(frozen=True)
class KeyRecord:
    """A live API key as stored: what resolving a presented key or a JWT needs."""

    key_id: str
    account_id: int
    role: str
    secret_hash: str
    sealed_key: str | None


_LIVE_KEY = select(ApiKey.account_id, ApiKey.role, ApiKey.secret_hash, ApiKey.sealed_key)


def live_key(connection: Connection, key_id: str) -> KeyRecord | None:
    """The live (unrevoked) key with this id, read with Core on ``connection`` (no ORM session)."""
    row = connection.execute(_LIVE_KEY.where(ApiKey.key_id == key_id, ApiKey.revoked_at.is_(None))).first()
    return KeyRecord(key_id, row.account_id, row.role, row.secret_hash, row.sealed_key) if row else None


def create_source(session: Session, account: Account, provider: str, topic_arns: Sequence[str] = (),
                  secret: str | None = None) -> Source:
    source = Source(
        account_id=account.id,
        provider=provider,
        token=secrets.token_urlsafe(24),
        topic_arns=list(topic_arns),
        secret=secret,
    )
    session.add(source)
    session.flush()
    return source


def sources_of(session: Session, account: Account, provider: str) -> list[Source]:
    return list(session.scalars(select(Source).where(Source.account_id == account.id, Source.provider == provider)
                                .order_by(Source.id)))


def allow_topic(session: Session, source_id: int, topic_arn: str) -> Source:
    """Add an SNS TopicArn to an SES source's allowed topics (no-op if it is there already)."""
    source = session.get(Source, source_id, with_for_update=True)
    if topic_arn not in (source.topic_arns or []):
        source.topic_arns = [*(source.topic_arns or []), topic_arn]  # a new list: JSON columns track assignment only
    session.flush()
    return source


def source_by_token(session: Session, token: str) -> Source | None:
    return session.scalar(select(Source).where(Source.token == token))


def accounts_with_retention(session: Session) -> list[Account]:
    return list(session.scalars(select(Account).where(
        (Account.raw_retention_days.is_not(None)) | (Account.delivery_retention_days.is_not(None))
    ).order_by(Account.id)))


def set_retention(session: Session, account: Account, *, raw_days: int | None, delivery_days: int | None) -> None:
    account.raw_retention_days = raw_days
    account.delivery_retention_days = delivery_days
    session.flush()


def create_api_key(session: Session, account: Account, role: str = "application",
                   secret_key: str | None = None) -> str:
    """Store a new key for ``account`` and return its plaintext (the only time it is shown).

    With ``secret_key`` (TRACKER_SECRET_KEY) the key is also kept sealed, so that JWTs
    signed with it can be verified; without it only the hash is kept.
    """
    new = keys.generate()
    sealed = keys.seal(new.plaintext, secret_key) if secret_key else None
    session.add(ApiKey(account_id=account.id, key_id=new.key_id, secret_hash=new.secret_hash, role=role,
                       sealed_key=sealed))
    session.flush()
    return new.plaintext


def sealed_key(session: Session, key_id: str) -> tuple[int, str, str | None] | None:
    """(account id, role, sealed key) of a live key, for JWT verification."""
    row = session.execute(select(ApiKey.account_id, ApiKey.role, ApiKey.sealed_key).where(
        ApiKey.key_id == key_id, ApiKey.revoked_at.is_(None))).first()
    return (row.account_id, row.role, row.sealed_key) if row else None


def keys_of(session: Session, account: Account) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).where(ApiKey.account_id == account.id).order_by(ApiKey.id)))


def revoke_key(session: Session, key_id: str) -> bool:
    """Revoke a key (every API style refuses it from now on); False if no live key has that id."""
    key = session.scalar(select(ApiKey).where(ApiKey.key_id == key_id, ApiKey.revoked_at.is_(None)))
    if key is None:
        return False
    key.revoked_at = utcnow()
    key.sealed_key = None  # nothing left to verify JWTs with
    session.flush()
    # Once this commits, the Database tells every process's key cache (tracker.db.engine).
    session.info["api_keys_revoked"] = True
    return True


@dataclasses.dataclass(frozen=True)
class AccountSummary:
    id: int
    name: str
    created_at: object
    live_keys: int
    sources: int


def account_summaries(session: Session) -> list[AccountSummary]:
    """Every account with how many live keys and sources it has, by name."""
    keys_live = (select(func.count()).select_from(ApiKey)
                 .where(ApiKey.account_id == Account.id, ApiKey.revoked_at.is_(None)).scalar_subquery())
    sources = select(func.count()).select_from(Source).where(Source.account_id == Account.id).scalar_subquery()
    rows = session.execute(select(Account.id, Account.name, Account.created_at, keys_live, sources)
                           .order_by(Account.name))
    return [AccountSummary(*row) for row in rows]


def all_sources(session: Session, account_id: int | None = None) -> list[tuple[Source, str]]:
    """(source, account name) of every source, or of one account's, by id."""
    statement = select(Source, Account.name).join(Account, Account.id == Source.account_id).order_by(Source.id)
    if account_id is not None:
        statement = statement.where(Source.account_id == account_id)
    return [(source, name) for source, name in session.execute(statement)]


def source_by_id(session: Session, source_id: int) -> Source | None:
    return session.get(Source, source_id)


def set_source_secret(session: Session, source: Source, secret: str | None) -> None:
    source.secret = secret
    session.flush()
