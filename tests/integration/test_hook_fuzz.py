"""Fuzzing every hook with damaged recorded payloads, authenticated and not.

Whatever arrives: no 5xx; nothing unauthenticated is stored; every stored row ends
processed or failed with a kind and a reason; and the worker keeps applying events.
TRACKER_FUZZ_EXAMPLES raises the number of examples per test (bench-sized runs).
"""
from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.support import mutations
from tests.support.harness import FIXTURES, drain, make_tenant
from tests.support.sns_signing import DEFAULT_TOPIC_ARN, notification
from tests.support.webhooks.catalog import PROVIDERS
from tracker.db import repository
from tracker.db.models import Delivery, InboxEvent
from tracker.providers import registry

EXAMPLES = int(os.environ.get("TRACKER_FUZZ_EXAMPLES", "100"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize="TRACKER_FUZZ_EXAMPLES" not in os.environ,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])

# Recorded payloads to damage, per provider (JSON documents; SendCloud's form too).
SAMPLES = {
    "infobip": ["dlr/undeliverable-permanent.json", "dlr/batch.json"],
    "sendcloud": ["json/invalid_email.json", "json/delivered.json"],
    "sendgrid": ["bounce.json", "batch.json"],
    "mailgun": ["failed-permanent.json", "delivered.json"],
    "postmark": ["bounce-hard.json", "delivery.json"],
}
BY_NAME = {provider.name: provider for provider in PROVIDERS}
# Providers whose credentials sit inside the body, next to what they sign (timestamp and
# token): damage done after signing leaves them authentic.
SIGNS_INSIDE_BODY = ("mailgun", "sendcloud")


class Hooks:
    """One account per provider (and an SES one), created once per test."""

    def __init__(self, app):
        self.app = app
        self.paths = {}
        with app.extensions["tracker"].db.transaction() as session:
            for provider in PROVIDERS:
                account = repository.create_account(session, f"fuzz-{provider.name}")
                self.paths[provider.name] = f"/hooks/{provider.name}/" + repository.create_source(
                    session, account, provider.name, secret=provider.secret).token
        self.ses = make_tenant(app, "fuzz-ses", [DEFAULT_TOPIC_ARN])

    def rows(self) -> int:
        with self.app.extensions["tracker"].db.session() as session:
            return session.scalar(select(func.count()).select_from(InboxEvent))

    def unsettled(self) -> list[tuple]:
        """Rows that are neither processed nor failed with a kind and a reason."""
        with self.app.extensions["tracker"].db.session() as session:
            rows = session.scalars(select(InboxEvent))
            return [(row.id, row.provider, row.state, row.failure_kind, row.error) for row in rows
                    if not (row.state == "processed" or (row.state == "failed" and row.failure_kind and row.error))]


@pytest.fixture
def hooks(app):
    return Hooks(app)


def _post(app, path: str, body: bytes, headers: dict):
    return app.test_client().post(path, data=body, headers=headers)


def _assert_settles_and_worker_goes_on(hooks: Hooks, pki) -> None:
    drain(hooks.app)
    assert hooks.unsettled() == []
    bounce = json.loads((FIXTURES / "ses" / "notification" / "bounce-permanent.json").read_text())
    assert _post(hooks.app, hooks.ses.hook, json.dumps(pki.sign(notification(bounce))).encode(), {}).status_code == 200
    drain(hooks.app)
    with hooks.app.extensions["tracker"].db.session() as session:
        statuses = set(session.scalars(select(Delivery.status).where(
            Delivery.message_id == bounce["mail"]["messageId"], Delivery.account_id == hooks.ses.account_id)))
    assert statuses == {"BOUNCED"}


@st.composite
def webhook_requests(draw, authentic: bool):
    """(provider, body, headers) of a damaged recorded payload, signed or forged."""
    provider = BY_NAME[draw(st.sampled_from(sorted(SAMPLES)))]
    document = json.loads(provider.fixture(draw(st.sampled_from(SAMPLES[provider.name]))))
    text = mutations.dumps(draw(mutations.mutated(document))).encode("utf-8")
    secret = provider.secret if authentic else provider.wrong_secret()
    if provider.name in SIGNS_INSIDE_BODY:
        try:
            body, headers = provider.signed(text, secret)
        except (ValueError, AttributeError, TypeError):  # damage the test signer itself cannot sign around
            body, headers = text, {"Content-Type": provider.content_type}
            authentic = False
        body = mutations.render(body)
    else:
        body, headers = provider.signed(mutations.render(text), secret)
    if draw(st.booleans()) and draw(st.booleans()):  # a quarter: cut short in transit
        body = body[:draw(st.integers(0, max(len(body) - 1, 0)))]
        authentic = authentic and provider.name not in SIGNS_INSIDE_BODY and provider.name != "sendgrid"
    if draw(st.integers(0, 9)) == 0:
        body = body + b"\x00"
        authentic = authentic and provider.name not in ("sendgrid",)
    return provider.name, body, headers, authentic


@FUZZ
@given(request=webhook_requests(authentic=True))
def test_damaged_authentic_webhooks_never_get_a_5xx_and_every_stored_row_settles(hooks, pki, request):
    provider, body, headers, _ = request

    response = _post(hooks.app, hooks.paths[provider], body, headers)

    assert response.status_code < 500, (provider, response.status_code, response.get_data()[:300])
    if response.status_code >= 400:
        assert response.is_json and response.json["error"]
    drain(hooks.app)
    assert hooks.unsettled() == []


@FUZZ
@given(request=webhook_requests(authentic=False))
def test_damaged_forged_webhooks_are_refused_and_stored_nowhere(hooks, request):
    provider, body, headers, _ = request
    before = hooks.rows()

    response = _post(hooks.app, hooks.paths[provider], body, headers)

    assert response.status_code in (400, 401, 403, 404, 406, 413, 415), (provider, response.status_code,
                                                                          response.get_data()[:300])
    assert response.is_json and response.json["error"]
    assert hooks.rows() == before


def test_after_the_webhook_fuzz_the_worker_still_applies_genuine_events(hooks, pki):
    """Runs one batch of damaged pushes of every provider, then a genuine SES event."""
    for provider in PROVIDERS:
        document = json.loads(provider.fixture(SAMPLES[provider.name][0]))
        for damaged in (mutations.DEEP, "a\x00b", None, [1, 2], 10 ** 30):
            copy = json.loads(json.dumps(document))
            target = copy[0] if isinstance(copy, list) else copy  # SendGrid posts an array of events
            target[next(iter(target))] = damaged
            text = mutations.dumps(copy).encode()
            if provider.name in SIGNS_INSIDE_BODY:
                body, headers = provider.signed(text)
                body = mutations.render(body)
            else:
                body, headers = provider.signed(mutations.render(text))
            assert _post(hooks.app, hooks.paths[provider.name], body, headers).status_code < 500
    _assert_settles_and_worker_goes_on(hooks, pki)


SES_SAMPLES = ["notification/bounce-permanent.json", "notification/delivery-multi-recipient.json",
               "event/bounce.json", "event/send.json", "event/open.json"]


@FUZZ
@given(sample=st.sampled_from(SES_SAMPLES), data=st.data())
def test_damaged_signed_ses_messages_never_get_a_5xx_and_settle(hooks, pki, sample, data):
    message = json.loads((FIXTURES / "ses" / sample).read_text())
    text = mutations.render(mutations.dumps(data.draw(mutations.mutated(message))))
    if data.draw(st.booleans()):
        text = text[:data.draw(st.integers(0, len(text)))]

    response = _post(hooks.app, hooks.ses.hook, json.dumps(pki.sign(notification(text))).encode(), {})

    assert response.status_code == 200, response.json
    drain(hooks.app)
    assert hooks.unsettled() == []


@FUZZ
@given(data=st.data())
def test_damaged_sns_envelopes_are_refused_with_a_4xx_and_stored_nowhere(hooks, pki, data):
    bounce = json.loads((FIXTURES / "ses" / "notification" / "bounce-permanent.json").read_text())
    envelope = data.draw(mutations.mutated(pki.sign(notification(bounce))))
    body = mutations.render(mutations.dumps(envelope).encode())
    if data.draw(st.booleans()):
        body = body[:data.draw(st.integers(0, len(body)))]
    before = hooks.rows()

    response = _post(hooks.app, hooks.ses.hook, body, {})

    # A damage that leaves the envelope genuine (an unsigned field) may still be stored.
    assert response.status_code in (200, 400, 403), (response.status_code, response.get_data()[:300])
    assert response.is_json
    if response.status_code != 200:
        assert hooks.rows() == before


_HEADER_TEXT = st.text(st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), max_size=60)


@FUZZ
@given(provider=st.sampled_from([*SAMPLES, "sns", "nope"]), token=st.text(max_size=70), body=st.binary(max_size=300),
       authorization=_HEADER_TEXT, content_type=_HEADER_TEXT, raw=st.sampled_from(["", "true", "\x00", "TRUE "]))
def test_any_token_header_or_body_without_credentials_gets_a_json_4xx_and_stores_nothing(
        hooks, provider, token, body, authorization, content_type, raw):
    from urllib.parse import quote

    before = hooks.rows()
    headers = {"Authorization": authorization, "Content-Type": content_type, "x-amz-sns-rawdelivery": raw}
    real_token = hooks.paths.get(provider, hooks.ses.hook).rsplit("/", 1)[1]
    for path in (f"/hooks/{quote(provider, safe='')}/{quote(token, safe='')}", f"/hooks/{provider}/{real_token}"):
        response = _post(hooks.app, path, body, headers)
        if provider in registry.URL_CHECKERS and path.endswith(real_token) and not body.strip():
            # SendCloud's URL check: a POST with nothing in it is answered 200 (and stores nothing).
            assert response.status_code == 200, (path, response.status_code, response.get_data()[:300])
            continue
        assert 400 <= response.status_code < 500, (path, response.status_code, response.get_data()[:300])
        assert response.is_json and response.json["error"]
    assert hooks.rows() == before
