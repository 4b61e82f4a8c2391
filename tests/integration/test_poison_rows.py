"""A row fails alone: one account's poison never holds up another account's events.

Each poison below is authentic (it passes its source's check), so it is stored; the worker
must then fail that row with a kind and a reason and apply everything else.
"""
from __future__ import annotations

import base64
import json

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from tests.support.harness import FIXTURES, drain, make_tenant
from tests.support.sns_signing import DEFAULT_TOPIC_ARN, notification
from tests.support.webhooks.catalog import PROVIDERS
from tracker.pipeline import ingest
from tracker.domain import inbox
from tracker.db import repository
from tracker.db.models import Delivery, InboxEvent

BY_NAME = {provider.name: provider for provider in PROVIDERS}


def _fixture(provider: str, name: str) -> bytes:
    return BY_NAME[provider].fixture(name)


def _replace(body: bytes, old: str, new: str) -> bytes:
    text = body.decode("utf-8")
    assert old in text, f"{old!r} is not in the fixture"
    return text.replace(old, new, 1).encode("utf-8")


def _infobip_nul_message_id() -> bytes:
    return _replace(_fixture("infobip", "dlr/undeliverable-permanent.json"),
                    '"f04a9d3e-5c21-4b7a-8e6f-1a2b3c4d5e6f"', '"f04a9d3e\\u0000-poison"')


def _sendgrid_nul_email() -> bytes:
    events = json.loads(_fixture("sendgrid", "bounce.json"))
    events[0]["email"] = "poison\u0000@example.com"
    return json.dumps(events).encode()


def _mailgun_nul_recipient() -> bytes:
    document = json.loads(_fixture("mailgun", "failed-permanent.json"))
    document.pop("signature", None)
    document["event-data"]["recipient"] = "poison\u0000@example.com"
    return json.dumps(document).encode()


def _postmark_nul_message_id() -> bytes:
    document = json.loads(_fixture("postmark", "bounce-hard.json"))
    document["MessageID"] = "poison\u0000id"
    return json.dumps(document).encode()


def _sendcloud_form_nul() -> bytes:
    body = _fixture("sendcloud", "form/deliver.txt").decode()
    fields = dict(pair.split("=", 1) for pair in body.strip().split("&"))
    fields["emailId"] = fields["emailId"] + "%00poison"
    return "&".join(f"{name}={value}" for name, value in fields.items()).encode()


POISON = {
    "infobip-nul-message-id": ("infobip", _infobip_nul_message_id, "application/json"),
    "sendgrid-nul-email": ("sendgrid", _sendgrid_nul_email, "application/json"),
    "mailgun-nul-recipient": ("mailgun", _mailgun_nul_recipient, "application/json"),
    "postmark-nul-message-id": ("postmark", _postmark_nul_message_id, "application/json"),
    "sendcloud-form-percent-00": ("sendcloud", _sendcloud_form_nul, "application/x-www-form-urlencoded"),
}


@pytest.fixture
def webhook_source(app):
    """A factory: an account ``name`` with a source of ``provider``; its hook path."""
    def make(provider_name: str, name: str) -> str:
        provider = BY_NAME[provider_name]
        with app.extensions["tracker"].db.transaction() as session:
            account = repository.create_account(session, name)
            token = repository.create_source(session, account, provider.name, secret=provider.secret).token
        return f"/hooks/{provider.name}/{token}"
    return make


def _post_signed(app, provider_name: str, hook: str, body: bytes, content_type: str):
    provider = BY_NAME[provider_name]
    signed_body, headers = provider.signer.signed_request(body, provider.secret, content_type=content_type)
    return app.test_client().post(hook, data=signed_body, headers=headers)


def _genuine_ses_bounce(app, pki, tenant) -> str:
    bounce = json.loads((FIXTURES / "ses" / "notification" / "bounce-permanent.json").read_text())
    response = app.test_client().post(tenant.hook, data=json.dumps(pki.sign(notification(bounce))))
    assert response.status_code == 200, response.json
    return bounce["mail"]["messageId"]


def _rows(app) -> list[InboxEvent]:
    with app.extensions["tracker"].db.session() as session:
        return list(session.scalars(select(InboxEvent).order_by(InboxEvent.id)))


def _statuses(app, account_id: int) -> dict[str, str]:
    with app.extensions["tracker"].db.session() as session:
        rows = session.scalars(select(Delivery).where(Delivery.account_id == account_id))
        return {d.message_id: d.status for d in rows}


@pytest.mark.parametrize("poison", POISON, ids=str)
def test_one_accounts_poison_fails_alone_and_another_accounts_event_is_applied(app, pki, webhook_source, poison):
    provider_name, make_body, content_type = POISON[poison]
    hook = webhook_source(provider_name, "poisoned")
    response = _post_signed(app, provider_name, hook, make_body(), content_type)
    assert response.status_code < 500, response.json
    other = make_tenant(app, "other", [DEFAULT_TOPIC_ARN])
    message_id = _genuine_ses_bounce(app, pki, other)

    drain(app)

    assert _statuses(app, other.account_id) == {message_id: "BOUNCED"}
    states = {row.provider: (row.state, row.failure_kind, row.error) for row in _rows(app)}
    state, kind, error = states[provider_name]
    assert (state, kind) == ("failed", inbox.UNSTORABLE), states
    assert "NUL" in error


def test_a_signed_ses_message_nested_20000_deep_fails_alone(app, pki, tenant):
    deep = "[" * 20_000 + "]" * 20_000
    response = app.test_client().post(tenant.hook, data=json.dumps(pki.sign(notification(deep))))
    assert response.status_code == 200, response.json
    message_id = _genuine_ses_bounce(app, pki, tenant)

    drain(app)

    assert _statuses(app, tenant.account_id) == {message_id: "BOUNCED"}
    poisoned = [row for row in _rows(app) if row.state != "processed"]
    assert [(row.state, row.failure_kind) for row in poisoned] == [("failed", inbox.PARSE_ERROR)]
    assert "deep" in poisoned[0].error


def test_nul_in_free_text_is_kept_as_a_replacement_character_and_the_event_applies(app, pki, tenant):
    bounce = json.loads((FIXTURES / "ses" / "notification" / "bounce-permanent.json").read_text())
    bounce["bounce"]["bouncedRecipients"][0]["diagnosticCode"] = "smtp; 550 no\u0000such user"
    bounce["mail"]["commonHeaders"] = {"subject": "Hello\u0000there", "from": ["a@example.com"]}
    response = app.test_client().post(tenant.hook, data=json.dumps(pki.sign(notification(bounce))))
    assert response.status_code == 200

    drain(app)

    [row] = _rows(app)
    assert row.state == "processed", row.error
    with app.extensions["tracker"].db.session() as session:
        [delivery] = session.scalars(select(Delivery))
    assert delivery.status == "BOUNCED"
    assert delivery.diagnostic == "smtp; 550 no\ufffdsuch user"


def _sendcloud_long_substat() -> bytes:
    document = json.loads(_fixture("sendcloud", "json/invalid_email.json"))
    document["substat"] = "4" * 100
    return json.dumps(document).encode()


def test_a_bounce_subtype_longer_than_its_column_is_cut_and_the_bounce_applies(app, pki, tenant, webhook_source):
    """A subtype is free text, not an id (README, "NUL characters and invalid UTF-8"): one past its column's
    64 characters is cut there, as Infobip's, SendGrid's, Mailgun's and Postmark's parsers cut theirs, rather
    than failing the whole event as unstorable and leaving the delivery without its bounce."""
    bounce = json.loads((FIXTURES / "ses" / "notification" / "bounce-permanent.json").read_text())
    bounce["bounce"]["bounceSubType"] = "S" * 100
    assert app.test_client().post(tenant.hook, data=json.dumps(pki.sign(notification(bounce)))).status_code == 200
    hook = webhook_source("sendcloud", "pushed")
    assert _post_signed(app, "sendcloud", hook, _sendcloud_long_substat(), "application/json").status_code == 200

    drain(app)

    assert [(row.provider, row.state, row.error) for row in _rows(app)] == [("ses", "processed", None),
                                                                            ("sendcloud", "processed", None)]
    with app.extensions["tracker"].db.session() as session:
        subtypes = {(d.provider, d.status, d.bounce_subtype) for d in session.scalars(select(Delivery))}
    assert ("ses", "BOUNCED", "S" * 64) in subtypes
    assert ("sendcloud", "BOUNCED", "4" * 64) in subtypes


def test_a_raw_nul_byte_in_an_authenticated_body_is_stored_byte_for_byte(app, webhook_source):
    hook = webhook_source("postmark", "acme")
    body = _fixture("postmark", "bounce-hard.json").replace(b'"Type"', b'"Ty\x00pe"', 1)

    response = _post_signed(app, "postmark", hook, body, "application/json")

    assert response.status_code == 400, response.json
    [row] = _rows(app)
    assert row.kind == inbox.WEBHOOK_BASE64
    assert base64.b64decode(row.body) == body
    drain(app)
    [row] = _rows(app)
    assert row.state == "failed" and row.failure_kind == inbox.PARSE_ERROR


def test_an_unexpected_error_in_one_row_fails_that_row_and_the_rest_of_the_batch_commits(
        app, pki, tenant, monkeypatch):
    poisoned_id = "poisoned-message"
    original = ingest.read_row

    def buggy(row):
        reading = original(row)
        if any(event.message_id == poisoned_id for event in reading.events):
            raise KeyError("a bug in a parser")
        return reading
    monkeypatch.setattr(ingest, "read_row", buggy)
    bounce = json.loads((FIXTURES / "ses" / "notification" / "bounce-permanent.json").read_text())
    poison = json.loads(json.dumps(bounce))
    poison["mail"]["messageId"] = poisoned_id
    app.test_client().post(tenant.hook, data=json.dumps(pki.sign(notification(poison))))
    message_id = _genuine_ses_bounce(app, pki, tenant)

    drain(app)

    assert _statuses(app, tenant.account_id) == {message_id: "BOUNCED"}
    failed = [(row.state, row.failure_kind, row.error) for row in _rows(app) if row.state != "processed"]
    assert failed == [("failed", inbox.INTERNAL, "KeyError: 'a bug in a parser'")]


def test_a_row_the_database_refuses_fails_alone_and_its_neighbours_commit(app, pki, tenant, monkeypatch):
    original = repository.merge_deliveries

    def merge(session, changes, now):
        if any(change.message_id == "poisoned-message" for change in changes):
            # A statement the server refuses (DataError), so the transaction really is aborted.
            session.connection().exec_driver_sql("SELECT 1/0")
        return original(session, changes, now)
    monkeypatch.setattr(repository, "merge_deliveries", merge)
    bounce = json.loads((FIXTURES / "ses" / "notification" / "bounce-permanent.json").read_text())
    poison = json.loads(json.dumps(bounce))
    poison["mail"]["messageId"] = "poisoned-message"
    app.test_client().post(tenant.hook, data=json.dumps(pki.sign(notification(poison))))
    message_id = _genuine_ses_bounce(app, pki, tenant)

    result = drain(app)

    assert _statuses(app, tenant.account_id) == {message_id: "BOUNCED"}
    failed = [(row.state, row.failure_kind) for row in _rows(app) if row.state != "processed"]
    assert failed == [("failed", inbox.UNSTORABLE)]
    assert "division by zero" in [row.error for row in _rows(app) if row.state == "failed"][0]
    assert (result.processed, result.failed) == (1, 1)


def test_a_transient_database_error_on_one_row_retries_it_alone_later(app, pki, tenant, monkeypatch):
    original = repository.merge_deliveries
    left = {"n": 2}  # in the batch, then alone: it waits for its retry

    def merge(session, changes, now):
        if any(change.message_id == "poisoned-message" for change in changes) and left["n"]:
            left["n"] -= 1
            raise OperationalError("UPDATE deliveries", {}, Exception("deadlock detected"))
        return original(session, changes, now)
    monkeypatch.setattr(repository, "merge_deliveries", merge)
    bounce = json.loads((FIXTURES / "ses" / "notification" / "bounce-permanent.json").read_text())
    poison = json.loads(json.dumps(bounce))
    poison["mail"]["messageId"] = "poisoned-message"
    app.test_client().post(tenant.hook, data=json.dumps(pki.sign(notification(poison))))
    message_id = _genuine_ses_bounce(app, pki, tenant)

    drain(app)

    assert _statuses(app, tenant.account_id) == {message_id: "BOUNCED"}
    [waiting] = [row for row in _rows(app) if row.state != "processed"]
    assert (waiting.state, waiting.failure_kind, waiting.attempts) == ("pending", inbox.DATABASE, 1)
    assert waiting.next_attempt_at is not None

    with app.extensions["tracker"].db.transaction() as session:  # its backoff has passed
        session.execute(InboxEvent.__table__.update().values(next_attempt_at=None))
    drain(app)

    assert _statuses(app, tenant.account_id) == {message_id: "BOUNCED", "poisoned-message": "BOUNCED"}


def test_the_admin_api_lists_a_poisoned_row_as_failed_with_its_kind_and_reason(app, pki, webhook_source):
    hook = webhook_source("infobip", "poisoned")
    _post_signed(app, "infobip", hook, _infobip_nul_message_id(), "application/json")
    operator = make_tenant(app, "ops", [DEFAULT_TOPIC_ARN])
    with app.extensions["tracker"].db.transaction() as session:
        account = repository.account_by_name(session, "poisoned")
        key = repository.create_api_key(session, account, role="operator")

    drain(app)

    listed = app.test_client().get("/api/v1/admin/events", query_string={"state": "failed"},
                                   headers={"Authorization": f"Bearer {key}"})
    assert listed.status_code == 200, listed.json
    [item] = listed.json["data"]
    assert item["failure_kind"] == inbox.UNSTORABLE and "NUL" in item["error"]
    assert operator.account_id != account.id


def test_on_the_embedded_default_a_failing_row_leaves_no_trace_and_its_neighbours_commit(tmp_path, pki, monkeypatch):
    """SQLite too: the failed row's half-done writes are rolled back to its savepoint, the rest commit."""
    from tests.support.harness import RecordingWaker
    from tracker import create_app
    from tracker.db import migrate
    from tracker.adapters.sns_certificates import DirectoryCertificateStore
    from tracker.config import Config
    from tracker.db.models import DeliveryEvent

    config = Config(database_url=f"sqlite:///{tmp_path}/tracker.db", sns_cert_dir=str(pki.directory),
                    secret_key="test-secret-key")
    app = create_app(config, certificates=DirectoryCertificateStore(pki.directory), waker=RecordingWaker())
    migrate.upgrade(app.extensions["tracker"].db.engine)
    tenant = make_tenant(app, "acme", [DEFAULT_TOPIC_ARN])
    original = repository.merge_deliveries

    def merge(session, changes, now):  # fails after the history rows of its batch were inserted
        if any(change.message_id == "poisoned-message" for change in changes):
            raise KeyError("a bug after the first writes")
        return original(session, changes, now)
    monkeypatch.setattr(repository, "merge_deliveries", merge)
    bounce = json.loads((FIXTURES / "ses" / "notification" / "bounce-permanent.json").read_text())
    poison = json.loads(json.dumps(bounce))
    poison["mail"]["messageId"] = "poisoned-message"
    app.test_client().post(tenant.hook, data=json.dumps(pki.sign(notification(poison))))
    message_id = _genuine_ses_bounce(app, pki, tenant)

    drain(app)

    assert _statuses(app, tenant.account_id) == {message_id: "BOUNCED"}
    with app.extensions["tracker"].db.session() as session:
        history = set(session.scalars(select(DeliveryEvent.message_id)))
    assert history == {message_id}
    assert [(row.state, row.failure_kind) for row in _rows(app) if row.state != "processed"] == [
        ("failed", inbox.INTERNAL)]


def test_an_operator_can_look_at_a_stored_body_nested_thousands_deep(app, webhook_source):
    hook = webhook_source("infobip", "poisoned")
    body = b'{"results": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"
    assert _post_signed(app, "infobip", hook, body, "application/json").status_code == 400
    with app.extensions["tracker"].db.transaction() as session:
        key = repository.create_api_key(session, repository.account_by_name(session, "poisoned"), role="operator")
    drain(app)
    [row] = _rows(app)

    shown = app.test_client().get(f"/api/v1/admin/events/{row.id}", headers={"Authorization": f"Bearer {key}"})

    assert shown.status_code == 200, shown.get_data()[:300]
    assert shown.json["failure_kind"] == inbox.PARSE_ERROR
    assert shown.json["payload"] == body.decode()
