"""What `tracker run` sets up so a newcomer can try the tracker with curl.

The demo trusts one extra certificate, ``examples/sns-demo-cert/<DEMO_CERT_NAME>``, which
signs the example SNS messages under ``examples/``. Only `tracker run` adds it; every
other certificate is still fetched from AWS (or read from TRACKER_SNS_CERT_DIR), so a
real SNS subscription works against the demo too. No private key is in the repository.
"""
from __future__ import annotations

import os
from pathlib import Path

from tracker.adapters.sns_certificates import DirectoryCertificateStore
from tracker.providers.ses.auth import CertificateStore

# The repository's examples/, shipped inside the package (see setup.cfg).
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
DEMO_CERT_NAME = "SimpleNotificationService-0000000000000000000000000000demo.pem"
# The certificate of the key `tracker run` makes in var/demo/ to sign the examples as sent now
# (tracker.cli.demo_events).
LOCAL_CERT_NAME = "SimpleNotificationService-00000000000000000000000000000local.pem"
DEMO_ACCOUNT = "demo"


def example(name: str) -> Path:
    """Where to find an example payload: ./examples in a checkout, else the installed package's."""
    local = Path("examples") / name
    return local if local.is_file() else EXAMPLES / name


class WithDemoCertificate:
    """A certificate store that also knows the demo certificate and this folder's (tracker.cli.demo_events)."""

    def __init__(self, fallback: CertificateStore, directory: Path = EXAMPLES / "sns-demo-cert",
                 local: Path = Path("var/demo")) -> None:
        self._demo = DirectoryCertificateStore(directory)
        self._local = DirectoryCertificateStore(local)
        self._fallback = fallback

    def get(self, url: str):
        name = url.rsplit("/", 1)[-1]
        if name == DEMO_CERT_NAME:
            return self._demo.get(url)
        if name == LOCAL_CERT_NAME:
            return self._local.get(url)
        return self._fallback.get(url)


def local_secret_key(path: Path = Path("var/secret.key")) -> str:
    """The embedded default's TRACKER_SECRET_KEY: made once, kept under ./var (mode 600)."""
    if not path.exists():
        import secrets

        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def ensure_demo(session, *, secret_key: str | None, key_file: Path = Path("var/demo.key")):
    """The demo account's API key and SES source, made on the first run and the same on every run after.

    Keys are stored hashed, so the demo key is kept in ``key_file`` (mode 600) to be shown
    again; a new one is made only if that file is missing or its key was revoked.
    """
    from tracker.db import repository

    account = repository.account_by_name(session, DEMO_ACCOUNT)
    if account is None:
        account = repository.create_account(session, DEMO_ACCOUNT)
        repository.create_source(session, account, "ses", ["*"])
    source = repository.sources_of(session, account, "ses")[0]
    return kept_key(session, account, "application", key_file, secret_key), source


def ensure_demo_operator(session, *, secret_key: str | None, key_file: Path = Path("var/demo-operator.key")) -> str:
    """The demo account's operator key, to sign in to the dashboard: kept like the demo key (call ensure_demo first)."""
    from tracker.db import repository

    return kept_key(session, repository.account_by_name(session, DEMO_ACCOUNT), "operator", key_file, secret_key)


def kept_key(session, account, role: str, key_file: Path, secret_key: str | None) -> str:
    """The live key of ``role`` kept in ``key_file``, or a new one written there (mode 600)."""
    from tracker.db import repository

    kept = key_file.read_text().strip() if key_file.exists() else ""
    caller = repository.caller_for_key(session, kept) if kept else None
    if caller is not None and caller.account_id == account.id and caller.role == role:
        return kept
    key = repository.create_api_key(session, account, role=role, secret_key=secret_key)
    key_file.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(key)
    return key
