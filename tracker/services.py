"""What one app instance holds: config, database, certificate store, confirmer, waker, source cache."""
from __future__ import annotations

import dataclasses
import re
import threading
import time
from typing import Protocol

from datetime import timedelta

from flask import current_app

from tracker.db import repository
from tracker.providers.ses.auth import CertificateStore
from tracker.config import Config
from tracker.domain.suppression import SoftBouncePolicy
from tracker.db.engine import Database
from tracker.db.sources import SourceInfo
from tracker.pipeline.ingest import Settings
from tracker.adapters.sns_subscriptions import SubscriptionConfirmer


class Waker(Protocol):
    def wake(self) -> None: ...


# Hook tokens are secrets.token_urlsafe() (tracker.db.repository.accounts.create_source).
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,64}")


class SourceCache:
    """Token -> SourceInfo for a few seconds, so a receiver spends no query on lookups under load.

    Only hits are cached: a source created a moment ago works at once. A source changed
    meanwhile (its secret or token rotated, a topic allowed, through the CLI or the API, in
    any process) is never acted on stale: the receivers' inbox insert stores only while the
    source still has the token and secret the request was checked with, and a refusal
    (401/403) is re-decided once on the source read afresh (tracker.http.receivers.refusals.with_current_source).
    """

    def __init__(self, db: Database, ttl: float) -> None:
        self._db = db
        self._ttl = ttl
        self._entries: dict[str, tuple[float, SourceInfo]] = {}
        self._lock = threading.Lock()

    def get(self, token: str) -> SourceInfo | None:
        if not _TOKEN_SHAPE.fullmatch(token):
            return None  # no source has such a token (a NUL would not even reach the database)
        now = time.monotonic()
        entry = self._entries.get(token)
        if entry and entry[0] > now:
            return entry[1]
        with self._db.session() as session:
            source = repository.source_by_token(session, token)
            if source is None:
                return None
            info = SourceInfo(source.id, source.account_id, source.provider, tuple(source.topic_arns or ()),
                              source.secret, token)
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[token] = (now + self._ttl, info)
        return info

    def cached(self, token: str) -> SourceInfo | None:
        """The source for ``token`` if this process holds it fresh; None otherwise (nothing is looked up)."""
        entry = self._entries.get(token)
        return entry[1] if entry and entry[0] > time.monotonic() else None

    def forget(self, token: str) -> bool:
        """Drop what is cached for ``token`` (the next get reads the database); whether anything was."""
        with self._lock:
            return self._entries.pop(token, None) is not None


@dataclasses.dataclass
class Services:
    config: Config
    db: Database
    certificates: CertificateStore
    confirmer: SubscriptionConfirmer
    waker: Waker
    sources: SourceCache
    webhook_waker: Waker | None = None  # the embedded default's webhook sender thread
    rate_counters: object = None  # the embedded default's rate-limit counts (tracker.http.ratelimit), set by create_app
    page_marks: object = None  # where offset pages ended (tracker.http.page_marks), set by create_app

    @property
    def webhook_settings(self):
        from tracker.outbound.sender import SenderSettings

        return SenderSettings.from_config(self.config)

    @property
    def settings(self) -> Settings:
        return Settings(
            batch_size=self.config.batch_size,
            max_attempts=self.config.max_attempts,
            soft_bounces=SoftBouncePolicy(self.config.soft_bounce_limit,
                                          timedelta(days=self.config.soft_bounce_window_days)),
        )


def services() -> Services:
    return current_app.extensions["tracker"]
