"""SNS signature verification: what is accepted, what is refused, and why."""
from __future__ import annotations

import json
from datetime import datetime, UTC
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.sns_signing import (
    notification,
    subscription_confirmation,
    unsubscribe_confirmation,
)
from tracker.adapters.sns_certificates import DirectoryCertificateStore
from tracker.providers.ses.auth import (
    CertificateUnavailable,
    SignatureError,
    string_to_sign,
    validate_cert_url,
    validate_subscribe_url,
    verify,
)

SES_EVENT = {"eventType": "Delivery", "mail": {"messageId": "0100-abc"}}

ENVELOPES = {
    "notification": lambda: notification(SES_EVENT),
    "notification-with-subject": lambda: notification(SES_EVENT, subject="Amazon SES Email Event"),
    "subscription-confirmation": subscription_confirmation,
    "unsubscribe-confirmation": unsubscribe_confirmation,
}

NOTIFICATION_KEYS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
CONFIRMATION_KEYS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
SIGNED_FIELDS = (
    [("notification-with-subject", key) for key in NOTIFICATION_KEYS]
    + [("subscription-confirmation", key) for key in CONFIRMATION_KEYS]
    + [("unsubscribe-confirmation", key) for key in CONFIRMATION_KEYS]
)


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 12, tzinfo=UTC)


# -- genuine messages ------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1", "2"])
@pytest.mark.parametrize("kind", ENVELOPES)
def test_signed_message_verifies(pki, store, kind, version):
    verify(pki.sign(ENVELOPES[kind](), version), store)

    assert store.requested == [pki.cert_url]


@pytest.mark.parametrize(
    "message",
    [
        "line one\nline two\r\nline three\n",
        "Grüße, 東京 🚀 \u2028 tab\there",
        json.dumps({"quote": '"', "backslash": "\\", "newline": "a\nb", "unicode": "é"}),
    ],
    ids=["newlines", "unicode", "json-escapes"],
)
def test_message_survives_a_json_round_trip(pki, store, message):
    # What arrives is JSON text: escapes are decoded before verification, as SNS intends.
    body = json.dumps(pki.sign(notification(message), "2"))

    verify(json.loads(body), store)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(message=st.text(), subject=st.none() | st.text())
def test_any_text_message_verifies(pki, store, message, subject):
    verify(pki.sign(notification(message, subject=subject)), store)


def test_unsigned_fields_may_change(pki, store):
    signed = pki.sign(notification(SES_EVENT))
    signed["UnsubscribeURL"] = "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&x=1"
    signed["MessageAttributes"] = {"env": {"Type": "String", "Value": "prod"}}

    verify(signed, store)


def test_lambda_spelling_of_the_certificate_url_is_accepted(pki, store):
    signed = pki.sign(notification(SES_EVENT))
    signed["SigningCertUrl"] = signed.pop("SigningCertURL")

    verify(signed, store)


def test_null_subject_counts_as_absent(pki, store):
    # Lambda records carry "Subject": null for messages published without one.
    signed = pki.sign(notification(SES_EVENT))
    signed["Subject"] = None

    verify(signed, store)


# -- tampering -------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1", "2"])
@pytest.mark.parametrize(("kind", "key"), SIGNED_FIELDS)
def test_any_signed_field_changed_is_refused(pki, store, kind, key, version):
    signed = pki.sign(ENVELOPES[kind](), version)
    signed[key] = signed[key] + "x"

    with pytest.raises(SignatureError):
        verify(signed, store)


def test_subject_added_after_signing_is_refused(pki, store):
    signed = pki.sign(notification(SES_EVENT))
    signed["Subject"] = "Injected"

    with pytest.raises(SignatureError, match="does not match"):
        verify(signed, store)


def test_subject_removed_after_signing_is_refused(pki, store):
    signed = pki.sign(notification(SES_EVENT, subject="Original"))
    del signed["Subject"]

    with pytest.raises(SignatureError, match="does not match"):
        verify(signed, store)


def test_signature_by_another_key_is_refused(pki, expired_pki, store):
    # Signed by a real key from the same CA, but presented with pki's certificate.
    signed = expired_pki.sign(notification(SES_EVENT, timestamp=at(2015, 6, 1)))
    signed["SigningCertURL"] = pki.cert_url

    with pytest.raises(SignatureError, match="does not match"):
        verify(signed, store)


@pytest.mark.parametrize(
    "signature", [None, "", "not base64!", "AAA", "QUJD\nREVG"], ids=["missing", "empty", "junk", "padding", "newline"]
)
def test_missing_or_malformed_signature_is_refused(pki, store, signature):
    signed = pki.sign(notification(SES_EVENT))
    if signature is None:
        del signed["Signature"]
    else:
        signed["Signature"] = signature

    with pytest.raises(SignatureError, match="Signature"):
        verify(signed, store)
    assert store.requested == []


@pytest.mark.parametrize("version", [None, "3", 1, "01", "1 ", "", ["1"]])
def test_unsupported_signature_version_is_refused(pki, store, version):
    signed = pki.sign(notification(SES_EVENT))
    if version is None:
        del signed["SignatureVersion"]
    else:
        signed["SignatureVersion"] = version

    with pytest.raises(SignatureError, match="SignatureVersion"):
        verify(signed, store)
    assert store.requested == []


@pytest.mark.parametrize(("signed_as", "presented_as"), [("1", "2"), ("2", "1")])
def test_signature_version_swap_is_refused(pki, store, signed_as, presented_as):
    signed = pki.sign(notification(SES_EVENT), signed_as)
    signed["SignatureVersion"] = presented_as

    with pytest.raises(SignatureError, match="does not match"):
        verify(signed, store)


@pytest.mark.parametrize("message_type", ["Notifications", "notification", "", None])
def test_unknown_type_is_refused(pki, store, message_type):
    signed = pki.sign(notification(SES_EVENT))
    signed["Type"] = message_type

    with pytest.raises(SignatureError, match="Type"):
        verify(signed, store)


@pytest.mark.parametrize("key", ["Message", "MessageId", "Timestamp", "TopicArn"])
def test_missing_required_field_is_refused(pki, store, key):
    signed = pki.sign(notification(SES_EVENT))
    del signed[key]

    with pytest.raises(SignatureError, match=key):
        verify(signed, store)


def test_non_string_field_is_refused(pki, store):
    signed = pki.sign(notification("1"))
    signed["Message"] = 1

    with pytest.raises(SignatureError, match="Message"):
        verify(signed, store)


def test_unencodable_text_is_a_signature_error_not_a_crash(pki, store):
    # json.loads('"\\ud800"') yields a lone surrogate, which UTF-8 cannot encode.
    signed = pki.sign(notification(SES_EVENT))
    signed["Message"] = json.loads('"\\ud800"')

    with pytest.raises(SignatureError):
        verify(signed, store)


# -- certificate URL -------------------------------------------------------------------

BAD_CERT_URLS = {
    "http": "http://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
    "no-scheme": "//sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
    "ftp": "ftp://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
    "suffix-host": "https://sns.us-east-1.amazonaws.com.evil.com/SimpleNotificationService-abc.pem",
    "host-in-path": "https://evil.com/sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
    "s3-host": "https://s3.amazonaws.com/SimpleNotificationService-abc.pem",
    "s3-bucket": "https://evil-bucket.s3.amazonaws.com/SimpleNotificationService-abc.pem",
    "no-region": "https://sns.amazonaws.com/SimpleNotificationService-abc.pem",
    "short-region": "https://sns.us.amazonaws.com/SimpleNotificationService-abc.pem",
    "dotted-region": "https://sns.evil.com.amazonaws.com/SimpleNotificationService-abc.pem",
    "prefix-host": "https://evilsns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
    "sub-host": "https://x.sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
    "trailing-dot": "https://sns.us-east-1.amazonaws.com./SimpleNotificationService-abc.pem",
    "cn-lookalike": "https://sns.us-east-1.amazonaws.com.cnn.com/SimpleNotificationService-abc.pem",
    "empty-userinfo": "https://@sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
    "userinfo": "https://user:pw@sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
    "userinfo-host": "https://sns.us-east-1.amazonaws.com@evil.com/SimpleNotificationService-abc.pem",
    "backslash": "https://evil.com\\@sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
    "port": "https://sns.us-east-1.amazonaws.com:8443/SimpleNotificationService-abc.pem",
    "bad-port": "https://sns.us-east-1.amazonaws.com:x/SimpleNotificationService-abc.pem",
    "no-pem": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.crt",
    "no-path": "https://sns.us-east-1.amazonaws.com",
    "pem-in-query": "https://sns.us-east-1.amazonaws.com/?Action=Get&x=.pem",
    "query": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem?x=1",
    "empty-query": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem?",
    "fragment": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem#x",
    "pem-in-fragment": "https://sns.us-east-1.amazonaws.com/cert#.pem",
    "newline": "https://sns.us-east-1.amazonaws.com\n.evil.com/SimpleNotificationService-abc.pem",
    "non-ascii": "https://sns.us-east-1.amazonaws.com/Simple\u00e9.pem",
    "empty": "",
}


@pytest.mark.parametrize("url", BAD_CERT_URLS.values(), ids=BAD_CERT_URLS.keys())
def test_bad_certificate_url_is_refused_before_any_fetch(pki, store, url):
    signed = pki.sign(notification(SES_EVENT))
    signed["SigningCertURL"] = url

    with pytest.raises(SignatureError, match="SigningCertURL"):
        verify(signed, store)
    assert store.requested == []


@pytest.mark.parametrize("url", BAD_CERT_URLS.values(), ids=BAD_CERT_URLS.keys())
def test_validate_cert_url_refuses(url):
    with pytest.raises(SignatureError):
        validate_cert_url(url)


def test_missing_certificate_url_is_refused(pki, store):
    signed = pki.sign(notification(SES_EVENT))
    del signed["SigningCertURL"]

    with pytest.raises(SignatureError, match="SigningCertURL is missing"):
        verify(signed, store)
    assert store.requested == []


@pytest.mark.parametrize(
    "url",
    [
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem",
        "https://SNS.EU-WEST-1.AMAZONAWS.COM/SimpleNotificationService-abc.pem",
        "https://sns.us-east-1.amazonaws.com:443/SimpleNotificationService-abc.pem",
    ],
)
def test_validate_cert_url_accepts_sns_hosts(url):
    validate_cert_url(url)


def test_validate_subscribe_url_accepts_the_confirmation_link():
    validate_subscribe_url(subscription_confirmation()["SubscribeURL"])


@pytest.mark.parametrize(
    "url",
    [
        "http://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=t",
        "https://sns.us-east-1.amazonaws.com.evil.com/?Action=ConfirmSubscription",
        "https://169.254.169.254/latest/meta-data/",
        "https://a:b@sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",
        "https://sns.us-east-1.amazonaws.com:8080/?Action=ConfirmSubscription",
        "https://s3.amazonaws.com/?Action=ConfirmSubscription",
    ],
)
def test_validate_subscribe_url_refuses_other_hosts(url):
    with pytest.raises(SignatureError, match="SubscribeURL"):
        validate_subscribe_url(url)


# -- certificate validity, judged at the message Timestamp -----------------------------


def test_old_message_verifies_with_its_since_expired_certificate(expired_pki, store):
    verify(expired_pki.sign(notification(SES_EVENT, timestamp=at(2015, 6, 1))), store)


@pytest.mark.parametrize("when", [at(2016, 1, 2), at(2014, 12, 30)], ids=["after", "before"])
def test_message_outside_the_certificate_window_is_refused(expired_pki, store, when):
    signed = expired_pki.sign(notification(SES_EVENT, timestamp=when))

    with pytest.raises(SignatureError, match="not valid at the message Timestamp"):
        verify(signed, store)


@pytest.mark.parametrize(
    "timestamp",
    ["yesterday", "2015-06-01T12:00:00", "2015-13-01T00:00:00Z", ""],
    ids=["garbled", "naive", "impossible", "empty"],
)
def test_unparseable_timestamp_is_refused(pki, store, timestamp):
    # Signed as-is, so only the Timestamp rule can refuse it.
    signed = pki.sign(notification(SES_EVENT, timestamp=timestamp))

    with pytest.raises(SignatureError, match="Timestamp"):
        verify(signed, store)


# -- what the certificate store says ---------------------------------------------------


def test_unavailable_certificate_is_not_reported_as_forgery(pki):
    class DownStore:
        def get(self, url):
            raise CertificateUnavailable("connection reset")

    with pytest.raises(CertificateUnavailable):
        verify(pki.sign(notification(SES_EVENT)), DownStore())


def test_certificate_without_an_rsa_key_is_refused(pki):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    ec_certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(at(2010, 1, 1))
        .not_valid_after(at(2040, 1, 1))
        .sign(key, hashes.SHA256())
    )

    class EcStore:
        def get(self, url):
            return ec_certificate

    with pytest.raises(SignatureError, match="RSA"):
        verify(pki.sign(notification(SES_EVENT)), EcStore())


# -- the string to sign, pinned against the AWS documentation --------------------------


def test_string_to_sign_for_a_notification():
    envelope = {
        "Type": "Notification",
        "MessageId": "m-1",
        "TopicArn": "arn:aws:sns:us-east-1:1:t",
        "Subject": "Hi",
        "Message": "a\nb",
        "Timestamp": "2012-04-26T20:45:04.751Z",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
        "SignatureVersion": "1",
    }

    assert string_to_sign(envelope) == (
        b"Message\na\nb\nMessageId\nm-1\nSubject\nHi\n"
        b"Timestamp\n2012-04-26T20:45:04.751Z\nTopicArn\narn:aws:sns:us-east-1:1:t\nType\nNotification\n"
    )


def test_string_to_sign_for_a_subscription_confirmation():
    envelope = {
        "Type": "SubscriptionConfirmation",
        "MessageId": "m-2",
        "Token": "tok",
        "TopicArn": "arn:aws:sns:us-east-1:1:t",
        "Message": "confirm",
        "SubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",
        "Timestamp": "2012-04-26T20:45:04.751Z",
    }

    assert string_to_sign(envelope) == (
        b"Message\nconfirm\nMessageId\nm-2\n"
        b"SubscribeURL\nhttps://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription\n"
        b"Timestamp\n2012-04-26T20:45:04.751Z\nToken\ntok\nTopicArn\narn:aws:sns:us-east-1:1:t\n"
        b"Type\nSubscriptionConfirmation\n"
    )


# -- genuine AWS messages --------------------------------------------------------------

FIXTURES = Path(__file__).parents[2] / "fixtures" / "sns"
REAL_MESSAGES = sorted(path.name for path in FIXTURES.glob("*.json"))


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def aws_certificates() -> DirectoryCertificateStore:
    return DirectoryCertificateStore(FIXTURES / "certs")


def test_real_fixtures_are_present():
    assert len(REAL_MESSAGES) >= 7


@pytest.mark.parametrize("name", REAL_MESSAGES)
def test_real_aws_message_verifies(aws_certificates, name):
    verify(load(name), aws_certificates)


@pytest.mark.parametrize("name", REAL_MESSAGES)
def test_real_aws_message_altered_is_refused(aws_certificates, name):
    envelope = load(name)
    for key in CONFIRMATION_KEYS if "Token" in envelope else NOTIFICATION_KEYS:
        if key not in envelope:
            continue
        altered = dict(envelope, **{key: envelope[key] + " "})
        with pytest.raises(SignatureError):
            verify(altered, aws_certificates)
