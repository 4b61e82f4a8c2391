"""POST /hooks/sns/<token> once its source is cached in the process (tracker.http.receivers.sns_fast).

The first request for a source goes through the Flask route and caches the source; the
later ones are served in front of Flask. Each test here warms the source first, so what SNS
gets back (answers, refusals, limits, outages) is checked on the path that serves the
volume, against what the Flask route answers.
"""
from __future__ import annotations

import errno
import io
import json

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from tests.support.harness import FIXTURES
from tests.support.sns_signing import notification
from tracker.db.models import InboxEvent

BOUNCE = (FIXTURES / "ses/notification/bounce-permanent.json").read_text()
HEADERS = {"Content-Type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": "Notification"}


def post(client, path, envelope, headers=None, **options):
    body = envelope if isinstance(envelope, (str, bytes)) else json.dumps(envelope)
    return client.post(path, data=body, headers={**HEADERS, **(headers or {})}, **options)


def stored_rows(app) -> list[InboxEvent]:
    with app.extensions["tracker"].db.session() as session:
        return list(session.scalars(select(InboxEvent).order_by(InboxEvent.id)))


def refused(reason: str) -> float:
    return REGISTRY.get_sample_value("tracker_events_refused_total", {"provider": "ses", "reason": reason}) or 0.0


@pytest.fixture
def warm(app, tenant, pki):
    """The source cached in this process by one stored notification (answered by the Flask route)."""
    client = app.test_client()
    first = post(client, tenant.hook, pki.sign(notification(BOUNCE)))
    assert first.status_code == 200, first.json
    assert app.extensions["tracker"].sources.cached(tenant.token) is not None
    return client, first


def test_a_cached_source_answers_as_the_flask_route_did(app, tenant, pki, warm):
    client, first = warm

    second = post(client, tenant.hook, pki.sign(notification(BOUNCE)), {"X-Request-Id": "sns-req-2"})

    assert second.status_code == 200
    assert second.json["status"] == "stored"
    assert set(second.json) == set(first.json) == {"status", "message_id", "inbox_id"}
    assert second.headers["Content-Type"] == first.headers["Content-Type"] == "application/json"
    assert int(second.headers["Content-Length"]) == len(second.data)
    assert second.headers["X-Request-Id"] == "sns-req-2"
    rows = stored_rows(app)
    assert [row.id for row in rows] == [first.json["inbox_id"], second.json["inbox_id"]]
    assert rows[1].request_id == "sns-req-2"
    assert json.loads(rows[1].body)["MessageId"] == second.json["message_id"]
    assert app.extensions["tracker"].waker.wakes == 2


def test_a_redelivery_is_a_duplicate_and_wakes_nobody(app, tenant, pki, warm):
    client, _ = warm
    envelope = pki.sign(notification(BOUNCE))

    answers = [post(client, tenant.hook, envelope) for _ in range(2)]

    assert [a.json["status"] for a in answers] == ["stored", "duplicate"]
    assert answers[1].json["message_id"] == envelope["MessageId"]
    assert len(stored_rows(app)) == 2
    assert app.extensions["tracker"].waker.wakes == 2


def test_a_forgery_is_refused_once_and_counted_once(app, tenant, pki, warm):
    client, _ = warm
    envelope = pki.sign(notification(BOUNCE))
    envelope["Message"] = envelope["Message"].replace("Permanent", "Transient")
    before = refused("invalid_signature")

    response = post(client, tenant.hook, envelope)

    assert response.status_code == 403
    assert response.json["error"] == "invalid_signature"
    assert refused("invalid_signature") == before + 1
    assert len(stored_rows(app)) == 1


def test_a_topic_the_source_does_not_allow_is_refused(app, tenant, pki, warm):
    client, _ = warm
    response = post(client, tenant.hook, pki.sign(notification(BOUNCE, topic_arn="arn:aws:sns:us-east-1:1:other")))
    assert response.status_code == 403
    assert response.json["error"] == "topic_not_allowed"
    assert len(stored_rows(app)) == 1


def test_a_body_that_is_not_utf8_is_malformed(app, tenant, pki, warm):
    client, _ = warm
    response = post(client, tenant.hook, b'{"Type": "Notification", "Message": "\xff"}')
    assert response.status_code == 400
    assert len(stored_rows(app)) == 1


def test_a_bare_event_with_the_raw_delivery_header_is_refused_as_unsigned(app, tenant, warm):
    client, _ = warm
    response = post(client, tenant.hook, BOUNCE, {"x-amz-sns-rawdelivery": "true"})
    assert response.status_code == 403
    assert response.json["error"] == "unsigned"


def test_a_body_past_the_limit_is_413_in_json(make_app, pki):
    from tests.support.harness import make_tenant
    from tests.support.sns_signing import DEFAULT_TOPIC_ARN

    app = make_app(max_body_bytes=4096)
    tenant = make_tenant(app, "small", [DEFAULT_TOPIC_ARN])
    client = app.test_client()
    assert post(client, tenant.hook, pki.sign(notification(BOUNCE))).status_code == 200
    big = pki.sign(notification(json.dumps({**json.loads(BOUNCE), "padding": "x" * 5000})))

    response = post(client, tenant.hook, big)

    assert response.status_code == 413
    assert response.json["error"] == "request_entity_too_large"
    assert len(stored_rows(app)) == 1


def test_a_body_shorter_than_its_declared_length_is_not_stored(app, tenant, pki, warm):
    client, _ = warm
    body = json.dumps(pki.sign(notification(BOUNCE))).encode()

    response = client.post(tenant.hook, input_stream=io.BytesIO(body[:-10]), headers=HEADERS,
                           environ_overrides={"CONTENT_LENGTH": str(len(body))})

    assert 400 <= response.status_code < 500
    assert response.is_json
    assert len(stored_rows(app)) == 1


class StalledBody:
    """A request body (as gunicorn hands it) whose client stops sending after ``sent`` bytes: the read that
    wants more times out."""

    def __init__(self, sent: bytes) -> None:
        self.sent = sent

    def read(self, size: int = -1) -> bytes:
        if size < 0 or size > len(self.sent):
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")  # SO_RCVTIMEO ran out
        found, self.sent = self.sent[:size], self.sent[size:]
        return found


def test_a_body_whose_client_stops_sending_is_answered_as_a_short_one(app, tenant, pki, warm):
    client, _ = warm
    body = json.dumps(pki.sign(notification(BOUNCE))).encode()

    response = client.post(tenant.hook, headers=HEADERS,
                           environ_overrides={"CONTENT_LENGTH": str(len(body)), "wsgi.input": StalledBody(body[:100])})

    assert 400 <= response.status_code < 500
    assert response.is_json
    assert len(stored_rows(app)) == 1


def test_a_chunked_body_without_a_length_is_stored(app, tenant, pki, warm):
    client, _ = warm
    body = json.dumps(pki.sign(notification(BOUNCE))).encode()

    # What gunicorn hands the app for Transfer-Encoding: chunked: no CONTENT_LENGTH, the input terminated.
    response = client.post(tenant.hook, input_stream=io.BytesIO(body), headers=HEADERS,
                           environ_overrides={"wsgi.input_terminated": True})

    assert response.status_code == 200, response.json
    assert response.json["status"] == "stored"
    assert len(stored_rows(app)) == 2


def test_a_source_removed_from_the_cache_is_looked_up_again(app, tenant, pki, warm):
    client, _ = warm
    app.extensions["tracker"].sources.forget(tenant.token)

    response = post(client, tenant.hook, pki.sign(notification(BOUNCE)))

    assert response.status_code == 200
    assert app.extensions["tracker"].sources.cached(tenant.token) is not None
    with app.extensions["tracker"].db.session() as session:
        assert session.scalar(select(func.count()).select_from(InboxEvent)) == 2
