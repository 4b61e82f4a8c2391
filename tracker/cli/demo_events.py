"""The demo's SES examples sent today: fresh send times and ids, signed by a key made for this folder.

The examples under ``examples/`` are signed once, with a key no one has, so their send times
are fixed: the dashboard's statuses and reputation (windows of 24 hours and 7 days, counted
by send time) stop showing them a week after they were written. `tracker run` therefore
writes copies sent now under ``var/demo/``, signed by a key it makes there on its first run
(mode 600, never leaves the folder), and trusts that key's certificate only in `tracker run`.
"""
from __future__ import annotations

import base64
import json
import os
import uuid
from datetime import datetime, timedelta, UTC
from pathlib import Path

from tracker.cli.demo import LOCAL_CERT_NAME, example

LOCAL_CERT_URL = f"https://sns.us-east-1.amazonaws.com/{LOCAL_CERT_NAME}"
DIRECTORY = Path("var/demo")
EXAMPLES = ("ses-bounce.json", "ses-delivery.json")
_KEY_FILE = "sns-signing-key.pem"


def write_fresh_examples(directory: Path = DIRECTORY, now: datetime | None = None) -> dict[str, Path]:
    """Each example as if sent a few seconds before ``now`` (new message and feedback ids), signed; name -> path."""
    key = _signing_key(directory)
    now = now or datetime.now(UTC)
    written = {}
    for name in EXAMPLES:
        envelope = json.loads(example(name).read_text())
        message = json.loads(envelope["Message"])
        message["mail"]["timestamp"] = _stamp(now - timedelta(seconds=2))
        message["mail"]["messageId"] = f"demo-{uuid.uuid4()}"
        for section in message.values():
            if isinstance(section, dict) and section is not message["mail"]:
                if "timestamp" in section:
                    section["timestamp"] = _stamp(now - timedelta(seconds=1))
                if "feedbackId" in section:
                    section["feedbackId"] = f"demo-{uuid.uuid4()}"
        envelope.update(Message=json.dumps(message), MessageId=str(uuid.uuid4()), Timestamp=_stamp(now),
                        SignatureVersion="2", SigningCertURL=LOCAL_CERT_URL)
        envelope["Signature"] = _sign(key, envelope)
        path = directory / name
        path.write_text(json.dumps(envelope, indent=2) + "\n")
        written[name] = path
    return written


def _sign(key, envelope: dict) -> str:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    from tracker.providers.ses.auth import string_to_sign

    return base64.b64encode(key.sign(string_to_sign(envelope), padding.PKCS1v15(), hashes.SHA256())).decode()


def _signing_key(directory: Path):
    """The folder's signing key and its certificate (named LOCAL_CERT_NAME), made on first use."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key_path, cert_path = directory / _KEY_FILE, directory / LOCAL_CERT_NAME
    if key_path.exists() and cert_path.exists():
        return serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    directory.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tracker run demo (local)")])
    start = datetime.now(UTC) - timedelta(days=1)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(start)
                   .not_valid_after(start + timedelta(days=3650)).sign(key, hashes.SHA256()))
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return key


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
