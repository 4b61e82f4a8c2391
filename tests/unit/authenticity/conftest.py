"""Fixtures for the SNS authenticity tests (the session-wide ``pki`` comes from tests/conftest.py)."""
from __future__ import annotations

from datetime import datetime, UTC

import pytest
from cryptography import x509

from tests.support.sns_signing import SnsTestPki


class RecordingStore:
    """An in-memory CertificateStore that remembers every URL it was asked for."""

    def __init__(self, *pkis: SnsTestPki) -> None:
        self.certificates = {pki.cert_url: pki.certificate for pki in pkis}
        self.requested: list[str] = []

    def get(self, url: str) -> x509.Certificate:
        self.requested.append(url)
        return self.certificates[url]


@pytest.fixture(scope="session")
def expired_pki(pki: SnsTestPki) -> SnsTestPki:
    """A rotated-out certificate from the same CA, valid only during 2015."""
    return pki.issue(
        not_before=datetime(2015, 1, 1, tzinfo=UTC),
        not_after=datetime(2015, 12, 31, 23, 59, 59, tzinfo=UTC),
    )


@pytest.fixture
def store(pki: SnsTestPki, expired_pki: SnsTestPki) -> RecordingStore:
    return RecordingStore(pki, expired_pki)
