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



def push_infobip_reports(app, account_id: int, name: str, sent_at, done_at) -> None:
    """POST the recorded Infobip delivery reports ``name`` (fixtures/infobip) through a new Infobip
    source of the account, each sent and done at the times given, and apply them."""
    import json

    from tests.support.ses_events import ses_time
    from tests.support.webhooks import infobip
    from tracker.db import repository
    from tracker.db.models import Account

    with app.extensions["tracker"].db.transaction() as session:
        token = repository.create_source(session, session.get(Account, account_id), "infobip",
                                         secret=infobip.EXAMPLE_SECRET).token
    recorded = json.loads(infobip.fixture(name))
    for report in recorded["results"]:
        report["sentAt"], report["doneAt"] = ses_time(sent_at), ses_time(done_at)
    body, headers = infobip.signed_request(json.dumps(recorded).encode(), infobip.EXAMPLE_SECRET)
    assert app.test_client().post(f"/hooks/infobip/{token}", data=body, headers=headers).status_code == 200
    drain(app)
