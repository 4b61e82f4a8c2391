"""A fake SNS for tests: a throwaway CA, an SNS-like signing certificate, envelope builders.

This module builds the string to sign itself and imports nothing from tracker/, so a
bug in the production verifier cannot be mirrored here and hidden. It also uses a
different formulation from production: one ordered key list taking whichever keys are
present (as AWS's PHP validator does) instead of one table per message Type.
"""
from __future__ import annotations

import base64
import copy
import json
import pathlib
import secrets
import uuid
from datetime import datetime, UTC
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

__all__ = [
    "DEFAULT_TOPIC_ARN",
    "SnsTestPki",
    "format_timestamp",
    "notification",
    "subscription_confirmation",
    "unsubscribe_confirmation",
]

DEFAULT_TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:ses-events"
DEFAULT_NOT_BEFORE = datetime(2010, 1, 1, tzinfo=UTC)
DEFAULT_NOT_AFTER = datetime(2040, 1, 1, tzinfo=UTC)

# Every key SNS ever signs, byte-sorted; an envelope contributes those it has.
_SIGNABLE_KEYS = ("Message", "MessageId", "Subject", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
_HASH_FOR_VERSION = {"1": hashes.SHA1, "2": hashes.SHA256}


class SnsTestPki:
    """A test CA and an SNS-like signing certificate written into `directory`."""

    def __init__(
        self,
        directory: pathlib.Path,
        *,
        region: str = "us-east-1",
        not_before: datetime | None = None,
        not_after: datetime | None = None,
    ) -> None:
        self.directory = pathlib.Path(directory)
        self.region = region
        self.ca_key = _new_rsa_key()
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test SNS Root CA")])
        self.ca_certificate = (
            _builder(ca_name, ca_name, self.ca_key.public_key(), DEFAULT_NOT_BEFORE, DEFAULT_NOT_AFTER)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(self.ca_key, hashes.SHA256())
        )
        self._issue_leaf(not_before or DEFAULT_NOT_BEFORE, not_after or DEFAULT_NOT_AFTER)

    def issue(self, *, not_before: datetime, not_after: datetime) -> SnsTestPki:
        """Another signing certificate (new key, new URL) from the same CA, e.g. for rotation."""
        other = copy.copy(self)
        other._issue_leaf(not_before, not_after)
        return other

    def sign(self, envelope: dict[str, Any], version: str = "1") -> dict[str, Any]:
        """Return a copy of `envelope` with SignatureVersion, SigningCertURL and Signature set."""
        signed = dict(envelope)
        signature = self.private_key.sign(
            _string_to_sign(signed), padding.PKCS1v15(), _HASH_FOR_VERSION[version]()
        )
        signed["SignatureVersion"] = version
        signed["SigningCertURL"] = self.cert_url
        signed["Signature"] = base64.b64encode(signature).decode("ascii")
        return signed

    def _issue_leaf(self, not_before: datetime, not_after: datetime) -> None:
        self.private_key = _new_rsa_key()
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
        self.certificate = (
            _builder(subject, self.ca_certificate.subject, self.private_key.public_key(), not_before, not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(self.ca_key, hashes.SHA256())
        )
        name = f"SimpleNotificationService-{secrets.token_hex(16)}.pem"
        self.cert_url = f"https://sns.{self.region}.amazonaws.com/{name}"
        self.cert_path = self.directory / name
        self.cert_path.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))


def notification(
    message: dict[str, Any] | str,
    *,
    topic_arn: str = DEFAULT_TOPIC_ARN,
    message_id: str | None = None,
    timestamp: str | datetime | None = None,
    subject: str | None = None,
) -> dict[str, Any]:
    """An unsigned Notification envelope; a dict message is JSON-encoded as SES does."""
    envelope: dict[str, Any] = {
        "Type": "Notification",
        "MessageId": message_id or str(uuid.uuid4()),
        "TopicArn": topic_arn,
    }
    if subject is not None:
        envelope["Subject"] = subject
    envelope["Message"] = message if isinstance(message, str) else json.dumps(message)
    envelope["Timestamp"] = _timestamp(timestamp)
    envelope["UnsubscribeURL"] = (
        f"https://sns.{_region(topic_arn)}.amazonaws.com/?Action=Unsubscribe"
        f"&SubscriptionArn={topic_arn}:{uuid.uuid4()}"
    )
    return envelope


def subscription_confirmation(
    *,
    topic_arn: str = DEFAULT_TOPIC_ARN,
    token: str | None = None,
    message_id: str | None = None,
    timestamp: str | datetime | None = None,
) -> dict[str, Any]:
    """An unsigned SubscriptionConfirmation envelope with AWS's wording."""
    text = (
        f"You have chosen to subscribe to the topic {topic_arn}.\n"
        "To confirm the subscription, visit the SubscribeURL included in this message."
    )
    return _confirmation("SubscriptionConfirmation", text, topic_arn, token, message_id, timestamp)


def unsubscribe_confirmation(
    *,
    topic_arn: str = DEFAULT_TOPIC_ARN,
    token: str | None = None,
    message_id: str | None = None,
    timestamp: str | datetime | None = None,
) -> dict[str, Any]:
    """An unsigned UnsubscribeConfirmation envelope with AWS's wording."""
    text = (
        f"You have chosen to deactivate subscription {topic_arn}:{uuid.uuid4()}.\n"
        "To cancel this operation and restore the subscription, "
        "visit the SubscribeURL included in this message."
    )
    return _confirmation("UnsubscribeConfirmation", text, topic_arn, token, message_id, timestamp)


def format_timestamp(moment: datetime) -> str:
    """Format like SNS: UTC, milliseconds, trailing Z (2012-04-26T20:45:04.751Z)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _confirmation(
    message_type: str,
    text: str,
    topic_arn: str,
    token: str | None,
    message_id: str | None,
    timestamp: str | datetime | None,
) -> dict[str, Any]:
    token = token or secrets.token_hex(128)
    return {
        "Type": message_type,
        "MessageId": message_id or str(uuid.uuid4()),
        "Token": token,
        "TopicArn": topic_arn,
        "Message": text,
        "SubscribeURL": (
            f"https://sns.{_region(topic_arn)}.amazonaws.com/?Action=ConfirmSubscription"
            f"&TopicArn={topic_arn}&Token={token}"
        ),
        "Timestamp": _timestamp(timestamp),
    }


def _string_to_sign(envelope: dict[str, Any]) -> bytes:
    return "".join(
        f"{key}\n{envelope[key]}\n" for key in _SIGNABLE_KEYS if envelope.get(key) is not None
    ).encode("utf-8")


def _timestamp(value: str | datetime | None) -> str:
    if isinstance(value, str):
        return value
    return format_timestamp(value or datetime.now(UTC))


def _region(topic_arn: str) -> str:
    return topic_arn.split(":")[3]


def _new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: rsa.RSAPublicKey,
    not_before: datetime,
    not_after: datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
