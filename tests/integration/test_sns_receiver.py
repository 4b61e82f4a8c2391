"""POST /hooks/sns/<token> on real PostgreSQL: what SNS and a forger each get back, and what is stored."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from tests.support.harness import FIXTURES, drain
from tests.support.sns_signing import (
    notification,
    subscription_confirmation,
    unsubscribe_confirmation,
)
from tracker.db.models import Delivery, InboxEvent, SnsSubscription

BOUNCE = (FIXTURES / "ses/notification/bounce-permanent.json").read_text()


def post(client, path, envelope, **headers):
    body = envelope if isinstance(envelope, (str, bytes)) else json.dumps(envelope)
    return client.post(path, data=body, headers={"Content-Type": "text/plain; charset=UTF-8", **headers})


def inbox_count(app) -> int:
    with app.extensions["tracker"].db.session() as session:
        return session.scalar(select(func.count()).select_from(InboxEvent))


@pytest.mark.parametrize("version", ["1", "2"])
def test_signed_notification_is_stored_before_200_and_wakes_a_worker(app, tenant, pki, version):
    response = post(app.test_client(), tenant.hook, pki.sign(notification(BOUNCE), version))

    assert response.status_code == 200, response.json
    assert response.json["status"] == "stored"
    assert inbox_count(app) == 1
    assert app.extensions["tracker"].waker.wakes == 1


def test_redelivery_of_the_same_message_id_is_stored_once(app, tenant, pki):
    envelope = pki.sign(notification(BOUNCE))
    client = app.test_client()

    first, again = post(client, tenant.hook, envelope), post(client, tenant.hook, envelope)

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json["status"] == "duplicate"
    assert inbox_count(app) == 1
    assert app.extensions["tracker"].waker.wakes == 1


def test_forged_message_is_refused_and_nothing_stored(app, tenant, pki):
    envelope = pki.sign(notification(BOUNCE))
    envelope["Message"] = envelope["Message"].replace("Permanent", "Transient")

    response = post(app.test_client(), tenant.hook, envelope)

    assert response.status_code == 403
    assert response.json["error"] == "invalid_signature"
    assert response.json["detail"]
    assert inbox_count(app) == 0


def test_unsigned_message_is_refused(app, tenant):
    response = post(app.test_client(), tenant.hook, notification(BOUNCE))
    assert response.status_code == 403
    assert inbox_count(app) == 0


def test_cert_url_off_the_sns_hosts_is_refused(app, tenant, pki):
    envelope = pki.sign(notification(BOUNCE))
    envelope["SigningCertURL"] = envelope["SigningCertURL"].replace("sns.us-east-1.amazonaws.com", "evil.example")
    response = post(app.test_client(), tenant.hook, envelope)
    assert response.status_code == 403
    assert inbox_count(app) == 0


def test_raw_message_delivery_is_refused_as_unsigned(app, tenant):
    response = post(app.test_client(), tenant.hook, BOUNCE, **{"x-amz-sns-rawdelivery": "true"})
    assert response.status_code == 403
    assert response.json["error"] == "unsigned"


def test_topic_not_allowed_by_the_source_is_refused(app, tenant, pki):
    envelope = pki.sign(notification(BOUNCE, topic_arn="arn:aws:sns:us-east-1:123456789012:other"))
    response = post(app.test_client(), tenant.hook, envelope)
    assert response.status_code == 403
    assert response.json["error"] == "topic_not_allowed"
    assert inbox_count(app) == 0


def test_wildcard_source_accepts_any_topic(app, pki):
    from tests.support.harness import make_tenant

    open_tenant = make_tenant(app, "open", ["*"])
    envelope = pki.sign(notification(BOUNCE, topic_arn="arn:aws:sns:eu-west-1:999999999999:anything"))
    assert post(app.test_client(), open_tenant.hook, envelope).status_code == 200


def test_unknown_token_is_404_json(app, pki):
    response = post(app.test_client(), "/hooks/sns/no-such-token", pki.sign(notification(BOUNCE)))
    assert response.status_code == 404
    assert set(response.json) == {"error", "detail"}


@pytest.mark.parametrize(
    "body, fragment",
    [
        ("not json at all", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        (json.dumps({"Type": "Telegram"}), "Type must be"),
        (json.dumps({"Type": "Notification", "MessageId": "x"}), "lacks"),
        (b"\xff\xfe\x00garbage", "UTF-8"),
    ],
)
def test_malformed_body_is_400_with_reason(app, tenant, body, fragment):
    response = post(app.test_client(), tenant.hook, body)
    assert response.status_code == 400
    assert response.json["error"] == "malformed"
    assert fragment in response.json["detail"]
    assert inbox_count(app) == 0


def test_body_past_the_bound_is_413_json(make_app, pki):
    from tests.support.harness import make_tenant

    small = make_app(max_body_bytes=2048)
    tenant = make_tenant(small, "small", ["*"])
    envelope = pki.sign(notification({"padding": "x" * 4096}))
    response = post(small.test_client(), tenant.hook, envelope)
    assert response.status_code == 413
    assert set(response.json) == {"error", "detail"}


def test_database_unavailable_answers_503_so_sns_retries(pki):
    from tracker import create_app
    from tracker.config import Config
    from tests.support.harness import RecordingWaker

    down = create_app(
        Config(database_url="postgresql+psycopg2://postgres@127.0.0.1:1/none"), waker=RecordingWaker()
    )
    response = post(down.test_client(), "/hooks/sns/any", pki.sign(notification(BOUNCE)))
    assert response.status_code == 503
    assert response.json["error"] == "database_unavailable"
    assert response.headers["Retry-After"]


def test_subscription_confirmation_is_confirmed_through_subscribe_url(app, tenant, pki, opener):
    envelope = pki.sign(subscription_confirmation())
    assert post(app.test_client(), tenant.hook, envelope).status_code == 200

    drain(app)

    assert opener.urls == [envelope["SubscribeURL"]]
    with app.extensions["tracker"].db.session() as session:
        subscription = session.scalar(select(SnsSubscription))
    assert subscription.state == "confirmed"
    assert subscription.topic_arn == envelope["TopicArn"]
    assert subscription.subscription_arn.endswith("2bcfbf39-05c3-41de-beaa-fcfcc21c8f55")


def test_confirmation_failure_is_retried_with_backoff_then_kept_as_failed(make_app, pki, opener):
    from datetime import timedelta

    from sqlalchemy import update

    from tests.support.harness import make_tenant

    app = make_app(max_attempts=2)
    db = app.extensions["tracker"].db
    tenant = make_tenant(app, "flaky", ["*"])
    opener.answer = OSError("connection reset")
    post(app.test_client(), tenant.hook, pki.sign(subscription_confirmation()))

    drain(app)
    with db.session() as session:
        row = session.scalar(select(InboxEvent))
    assert (row.state, row.attempts, row.failure_kind) == ("pending", 1, "transient")
    assert row.next_attempt_at - row.last_failed_at == timedelta(seconds=5)

    drain(app)  # not due yet: nothing happens
    assert len(opener.urls) == 1

    with db.transaction() as session:  # the clock moves past the backoff
        session.execute(update(InboxEvent).values(next_attempt_at=row.last_failed_at))
    drain(app)
    with db.session() as session:
        row = session.scalar(select(InboxEvent))
    assert (row.state, row.attempts, row.failure_kind) == ("failed", 2, "exhausted")
    assert "connection reset" in row.error


def test_unsubscribe_confirmation_is_recorded_and_never_resubscribes(app, tenant, pki, opener):
    assert post(app.test_client(), tenant.hook, pki.sign(unsubscribe_confirmation(), "2")).status_code == 200

    drain(app)

    assert opener.urls == []
    with app.extensions["tracker"].db.session() as session:
        subscription = session.scalar(select(SnsSubscription))
    assert subscription.state == "unsubscribed"


def test_subscription_succeeded_notice_is_accepted_and_changes_nothing(app, tenant, pki):
    notice = (FIXTURES / "ses/notification/subscription-succeeded.json").read_text()
    assert post(app.test_client(), tenant.hook, pki.sign(notification(notice))).status_code == 200

    result = drain(app)

    assert result.processed == 1
    with app.extensions["tracker"].db.session() as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == 0


# -- raw message delivery ----------------------------------------------------------------


def test_a_bare_ses_event_without_the_header_is_malformed_and_says_why(app, tenant):
    response = post(app.test_client(), tenant.hook, BOUNCE)

    assert response.status_code == 400
    assert "RawMessageDelivery" in response.json["detail"]
    assert inbox_count(app) == 0


def test_the_raw_delivery_header_alone_does_not_refuse_a_signed_envelope(app, tenant, pki):
    # Headers are not signed: the body decides, and this one is a genuine envelope.
    envelope = pki.sign(notification(BOUNCE))

    response = post(app.test_client(), tenant.hook, envelope, **{"x-amz-sns-rawdelivery": "true"})

    assert response.status_code == 200, response.json
    assert inbox_count(app) == 1


def test_the_raw_delivery_header_does_not_let_a_forged_envelope_through(app, tenant, pki):
    envelope = pki.sign(notification(BOUNCE))
    envelope["Message"] = envelope["Message"].replace("Permanent", "Transient")

    response = post(app.test_client(), tenant.hook, envelope, **{"x-amz-sns-rawdelivery": "true"})

    assert response.status_code == 403
    assert inbox_count(app) == 0


# -- genuine AWS messages, verified with the certificates that signed them -----------------

AWS_SNS = FIXTURES / "sns"
AWS_MESSAGES = sorted(path.name for path in AWS_SNS.glob("*.json"))


@pytest.fixture
def aws_app(pg_db, opener):
    """An app that trusts only the real SNS certificates recorded under tests/fixtures/sns."""
    from tests.support.harness import RecordingWaker
    from tracker import create_app
    from tracker.adapters.sns_certificates import DirectoryCertificateStore
    from tracker.config import Config
    from tracker.adapters.sns_subscriptions import HttpSubscriptionConfirmer

    certs = str(AWS_SNS / "certs")
    return create_app(
        Config(database_url=pg_db.url, sns_cert_dir=certs, secret_key="test-secret-key"),
        certificates=DirectoryCertificateStore(certs),
        confirmer=HttpSubscriptionConfirmer(opener=opener),
        waker=RecordingWaker(),
    )


@pytest.mark.parametrize("name", AWS_MESSAGES)
def test_a_genuine_aws_message_posted_byte_for_byte_is_stored(aws_app, name):
    from tests.support.harness import make_tenant

    body = (AWS_SNS / name).read_bytes()
    tenant = make_tenant(aws_app, "aws", [json.loads(body)["TopicArn"]])

    response = post(aws_app.test_client(), tenant.hook, body)

    assert response.status_code == 200, response.json
    assert response.json["message_id"] == json.loads(body)["MessageId"]
    assert inbox_count(aws_app) == 1


@pytest.mark.parametrize("name", AWS_MESSAGES)
def test_a_genuine_aws_message_with_one_character_changed_is_refused(aws_app, name):
    from tests.support.harness import make_tenant

    envelope = json.loads((AWS_SNS / name).read_text())
    tenant = make_tenant(aws_app, "aws", ["*"])
    message = envelope["Message"]
    envelope["Message"] = message.replace(".", "!", 1) if "." in message else message + "!"

    response = post(aws_app.test_client(), tenant.hook, envelope)

    assert response.status_code == 403
    assert response.json["error"] == "invalid_signature"
    assert inbox_count(aws_app) == 0


def test_a_genuine_subscription_confirmation_is_confirmed_through_its_subscribe_url(aws_app, opener):
    from tests.support.harness import make_tenant

    envelope = json.loads((AWS_SNS / "subscription-confirmation-v1.json").read_text())
    tenant = make_tenant(aws_app, "aws", [envelope["TopicArn"]])
    assert post(aws_app.test_client(), tenant.hook, envelope).status_code == 200

    drain(aws_app)

    assert opener.urls == [envelope["SubscribeURL"]]
    with aws_app.extensions["tracker"].db.session() as session:
        assert session.scalar(select(SnsSubscription.state)) == "confirmed"


def test_a_genuine_unsubscribe_confirmation_is_recorded_and_nothing_is_fetched(aws_app, opener):
    from tests.support.harness import make_tenant

    envelope = json.loads((AWS_SNS / "unsubscribe-confirmation-v2.json").read_text())
    tenant = make_tenant(aws_app, "aws", [envelope["TopicArn"]])
    assert post(aws_app.test_client(), tenant.hook, envelope).status_code == 200

    drain(aws_app)

    assert opener.urls == []
    with aws_app.extensions["tracker"].db.session() as session:
        assert session.scalar(select(SnsSubscription.state)) == "unsubscribed"


@pytest.mark.parametrize("name", ["notification.json", "subscription-confirmation.json",
                                  "unsubscribe-confirmation.json"])
def test_the_sns_guide_examples_decode_but_their_placeholder_signatures_are_refused(app, opener, name):
    # The SNS Developer Guide's examples carry "EXAMPLE…" signatures: well-formed
    # envelopes (so 403, not 400), never stored, and no SubscribeURL is ever fetched.
    from tests.support.harness import make_tenant

    tenant = make_tenant(app, "guide", ["*"])

    response = post(app.test_client(), tenant.hook, (AWS_SNS / "aws-docs" / name).read_bytes())

    assert response.status_code == 403
    assert response.json["error"] == "invalid_signature"
    drain(app)
    assert inbox_count(app) == 0
    assert opener.urls == []


def test_the_guide_bounce_without_dsn_bounces_exactly_the_two_addresses_it_names(app, tenant, pki):
    bounce = (FIXTURES / "ses/aws-docs/notification-bounce-without-dsn.json").read_text()
    assert post(app.test_client(), tenant.hook, pki.sign(notification(bounce))).status_code == 200

    drain(app)

    with app.extensions["tracker"].db.session() as session:
        rows = session.execute(select(Delivery.recipient, Delivery.status, Delivery.bounce_type)
                               .order_by(Delivery.recipient)).all()
    # mary@example.com was a destination too, but the bounce does not name her.
    assert [tuple(row) for row in rows] == [
        ("jane@example.com", "BOUNCED", "PERMANENT"),
        ("richard@example.com", "BOUNCED", "PERMANENT"),
    ]


def test_a_connection_that_died_answers_503_then_the_retry_is_stored(app, tenant, pki, pg_url, unannounced_deaths):
    import sqlalchemy as sa

    client = app.test_client()
    assert post(client, tenant.hook, pki.sign(notification(BOUNCE))).status_code == 200
    other = sa.create_engine(pg_url)
    with other.begin() as connection:  # as a lost database host would: every connection the app holds dies
        ended = connection.execute(sa.text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
    assert ended >= 1
    envelope = pki.sign(notification(BOUNCE))

    lost = post(client, tenant.hook, envelope)
    retried = post(client, tenant.hook, envelope)

    assert lost.status_code == 503, lost.json
    assert lost.json["error"] == "database_unavailable"
    assert retried.status_code == 200, retried.json
    assert retried.json["status"] == "stored"
    with other.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM inbox_events")).scalar() == 2
    other.dispose()
