"""Settings from the environment, read when the app is created (never at import time)."""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from collections.abc import Mapping


def _default_database_url() -> str:
    return f"sqlite:///{Path('var/tracker.db').resolve()}"


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...], default: str, *, upper: bool = False) -> str:
    raw = (env.get(name) or "").strip()
    value = raw.upper() if upper else raw.lower()
    if not value:
        return default
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return value


@dataclasses.dataclass(frozen=True)
class Config:
    """Every setting the tracker reads; the README's configuration table mirrors this."""

    database_url: str
    broker_url: str | None = None
    sns_cert_dir: str | None = None
    max_body_bytes: int = 1024 * 1024
    batch_size: int = 500
    max_attempts: int = 5
    sweep_interval: float = 2.0
    sweep_grace: float = 0.0
    source_cache_seconds: float = 10.0
    soft_bounce_limit: int = 2
    soft_bounce_window_days: float = 30.0
    secret_key: str | None = None
    rate_limits: str = ""
    webhook_allow_http: bool = False
    webhook_allowed_networks: str = ""
    webhook_timeout: float = 10.0
    webhook_concurrency: int = 2
    webhook_max_age_hours: float = 24.0
    webhook_disable_after_hours: float = 72.0
    log_format: str = "text"
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        env = os.environ if environ is None else environ

        def number(name: str, default: float, kind=int):
            raw = env.get(name)
            if raw in (None, ""):
                return default
            try:
                return kind(raw)
            except ValueError:
                raise ValueError(f"{name} must be a number, got {raw!r}") from None

        return cls(
            database_url=env.get("TRACKER_DATABASE_URL") or _default_database_url(),
            broker_url=env.get("TRACKER_BROKER_URL") or None,
            sns_cert_dir=env.get("TRACKER_SNS_CERT_DIR") or None,
            max_body_bytes=number("TRACKER_MAX_BODY_BYTES", cls.max_body_bytes),
            batch_size=number("TRACKER_BATCH_SIZE", cls.batch_size),
            max_attempts=number("TRACKER_MAX_ATTEMPTS", cls.max_attempts),
            sweep_interval=number("TRACKER_SWEEP_INTERVAL", cls.sweep_interval, float),
            sweep_grace=number("TRACKER_SWEEP_GRACE", cls.sweep_grace, float),
            soft_bounce_limit=number("TRACKER_SOFT_BOUNCE_LIMIT", cls.soft_bounce_limit),
            soft_bounce_window_days=number("TRACKER_SOFT_BOUNCE_WINDOW_DAYS", cls.soft_bounce_window_days, float),
            secret_key=env.get("TRACKER_SECRET_KEY") or None,
            rate_limits=env.get("TRACKER_RATE_LIMITS", ""),
            webhook_allow_http=env.get("TRACKER_WEBHOOKS_ALLOW_HTTP", "").lower() in ("1", "true", "yes"),
            webhook_allowed_networks=env.get("TRACKER_WEBHOOKS_ALLOWED_NETWORKS", ""),
            webhook_timeout=number("TRACKER_WEBHOOK_TIMEOUT", cls.webhook_timeout, float),
            webhook_concurrency=number("TRACKER_WEBHOOK_CONCURRENCY", cls.webhook_concurrency),
            webhook_max_age_hours=number("TRACKER_WEBHOOK_MAX_AGE_HOURS", cls.webhook_max_age_hours, float),
            webhook_disable_after_hours=number("TRACKER_WEBHOOK_DISABLE_AFTER_HOURS",
                                               cls.webhook_disable_after_hours, float),
            log_format=_choice(env, "TRACKER_LOG_FORMAT", ("text", "json"), cls.log_format),
            log_level=_choice(env, "TRACKER_LOG_LEVEL", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
                              cls.log_level, upper=True),
        )
