"""Certificate stores for SNS verification: an operator directory, or HTTPS from AWS.

Both check the URL with `validate_cert_url` themselves (a store must be safe even if a
caller forgets), and both cache parsed certificates per URL. Failures are never cached:
a transient network error must not stick, and a file the operator adds later must be
found.
"""
from __future__ import annotations

import functools
import http.client
import os
import re
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from collections.abc import Callable
from urllib.parse import urlsplit

from cryptography import x509

from tracker.providers.ses.auth import (
    CertificateStore,
    CertificateUnavailable,
    SignatureError,
    validate_cert_url,
)

__all__ = [
    "DirectoryCertificateStore",
    "HttpsCertificateStore",
    "Opener",
    "certificate_store_from_config",
    "urllib_opener",
]

# SNS uses a handful of certificates at a time; 64 leaves room for rotation and regions
# while bounding what a flood of forged URLs can pin in memory.
_CACHE_SIZE = 64
_MAX_BYTES = 64 * 1024

# A plain file name: no separators, no "..", no hidden files, no percent-escapes.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")

Opener = Callable[[str, float], bytes]
"""Fetches a URL: `(url, timeout) -> body bytes`; raises OSError on network failure."""


class DirectoryCertificateStore:
    """Certificates from an operator-filled directory, by the URL's last path segment."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        # lru_cache is thread-safe and does not cache exceptions, which is what we want.
        self._load = functools.lru_cache(maxsize=_CACHE_SIZE)(self._read)

    def get(self, url: str) -> x509.Certificate:
        """Return the certificate for `url` from the directory; never touches the network."""
        validate_cert_url(url)
        return self._load(url)

    def _read(self, url: str) -> x509.Certificate:
        name = urlsplit(url).path.rsplit("/", 1)[-1]
        if not _PLAIN_NAME.fullmatch(name):
            raise SignatureError(f"Certificate name {name!r} is not a plain file name.")
        try:
            data = (self.directory / name).read_bytes()
        except FileNotFoundError:
            raise SignatureError(f"no certificate {name} in the configured directory") from None
        except OSError as exc:
            # Unreadable (permissions, I/O): an operator problem, not a forgery. Answer
            # 503 so SNS retries while someone fixes it, instead of dropping the message.
            raise CertificateUnavailable(f"Cannot read certificate {name}: {exc}.") from exc
        return _parse_pem(data, name)


class HttpsCertificateStore:
    """Certificates fetched over HTTPS from the SNS host named in the message."""

    def __init__(
        self,
        opener: Opener | None = None,
        timeout: float = 5.0,
        max_bytes: int = _MAX_BYTES,
    ) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._opener = opener or functools.partial(urllib_opener, max_bytes=max_bytes)
        self._load = functools.lru_cache(maxsize=_CACHE_SIZE)(self._fetch)

    def get(self, url: str) -> x509.Certificate:
        """Return the certificate at `url`, fetching it once per URL."""
        validate_cert_url(url)
        return self._load(url)

    def _fetch(self, url: str) -> x509.Certificate:
        try:
            data = self._opener(url, self.timeout)
        except (OSError, http.client.HTTPException) as exc:
            # OSError: URLError, HTTPError, timeouts, TLS and socket errors. HTTPException:
            # a garbled or cut-off answer (BadStatusLine, IncompleteRead), which urllib lets
            # through unwrapped. Either way worth a retry, never a forgery.
            raise CertificateUnavailable(f"Cannot fetch the signing certificate: {exc!r}.") from exc
        if len(data) > self.max_bytes:
            raise SignatureError(f"The signing certificate is larger than {self.max_bytes} bytes.")
        return _parse_pem(data, url)


def urllib_opener(url: str, timeout: float, *, max_bytes: int = _MAX_BYTES) -> bytes:
    """GET `url` with TLS verification and no redirects; return at most max_bytes + 1 bytes.

    Redirects are refused because the URL was validated, not wherever it might point
    next. Reading one byte past the limit lets the caller tell "too large" from "fits".
    """
    opener = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=ssl.create_default_context()),
        _NoRedirects(),
    )
    try:
        with opener.open(url, timeout=timeout) as response:
            return response.read(max_bytes + 1)
    except urllib.error.HTTPError as error:
        error.close()  # an HTTPError is also the unread response: release its socket
        raise


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Turn every 3xx into an HTTPError instead of following it."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def certificate_store_from_config(cert_dir: str | None) -> CertificateStore:
    """The directory store when the operator configured one, the HTTPS store otherwise."""
    if cert_dir:
        return DirectoryCertificateStore(cert_dir)
    return HttpsCertificateStore()


def _parse_pem(data: bytes, source: str) -> x509.Certificate:
    """Parse one PEM certificate, treating anything else as unverifiable."""
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError:
        raise SignatureError(f"{source} is not a PEM certificate.") from None
