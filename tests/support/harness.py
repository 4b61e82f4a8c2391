"""Test harness: tenants, a driven worker, and stand-ins for AWS and the broker."""
from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


class RecordingOpener:
    """Stands in for AWS when the tracker GETs a SubscribeURL."""

    def __init__(self, answer: bytes | Exception = b""):
        self.urls: list[str] = []
        self.answer = answer

    def __call__(self, url: str, timeout: float) -> bytes:
        self.urls.append(url)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


class RecordingWaker:
    def __init__(self):
        self.wakes = 0

    def wake(self) -> None:
        self.wakes += 1


class Tenant:
    def __init__(self, account_id, key, token):
        self.account_id, self.key, self.token = account_id, key, token

    @property
    def auth(self) -> dict:
        return {"Authorization": f"Bearer {self.key}"}

    @property
    def hook(self) -> str:
        return f"/hooks/sns/{self.token}"


def make_tenant(app, name: str, topic_arns) -> Tenant:
    from tracker.db import repository

    with app.extensions["tracker"].db.transaction() as session:
        account = repository.create_account(session, name)
        key = repository.create_api_key(session, account,
                                        secret_key=app.extensions["tracker"].config.secret_key)
        source = repository.create_source(session, account, "ses", topic_arns)
        return Tenant(account.id, key, source.token)


def drain(app):
    """Run the worker's processing in this process until the inbox is empty."""
    from tracker.pipeline import ingest

    services = app.extensions["tracker"]
    return ingest.drain(services.db, services.confirmer, services.settings)

