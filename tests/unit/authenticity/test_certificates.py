"""Certificate stores: where certificates come from, and what they refuse to fetch."""
from __future__ import annotations

import contextlib
import http.client
import http.server
import threading
import urllib.error
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import serialization

from tracker.adapters.sns_certificates import (
    DirectoryCertificateStore,
    HttpsCertificateStore,
    certificate_store_from_config,
    urllib_opener,
)
from tracker.providers.ses.auth import CertificateUnavailable, SignatureError

OUTSIDE_URL = "http://evil.com/SimpleNotificationService-abc.pem"


def pem_of(pki) -> bytes:
    return pki.certificate.public_bytes(serialization.Encoding.PEM)


class FakeOpener:
    """Stands in for the network: answers from a list, records what was asked."""

    def __init__(self, *answers: bytes | Exception) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, float]] = []

    def __call__(self, url: str, timeout: float) -> bytes:
        self.calls.append((url, timeout))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


# -- DirectoryCertificateStore ---------------------------------------------------------


def test_directory_store_reads_by_last_path_segment(pki):
    store = DirectoryCertificateStore(pki.directory)
    # Same file name under another region's host: the directory is keyed by name only.
    other_region_url = pki.cert_url.replace("us-east-1", "eu-west-1")

    assert store.get(pki.cert_url) == pki.certificate
    assert store.get(other_region_url) == pki.certificate


def test_directory_store_caches_parsed_certificates(pki, tmp_path):
    (tmp_path / pki.cert_path.name).write_bytes(pem_of(pki))
    store = DirectoryCertificateStore(tmp_path)
    store.get(pki.cert_url)
    (tmp_path / pki.cert_path.name).unlink()

    assert store.get(pki.cert_url) == pki.certificate


def test_directory_store_missing_file_is_a_signature_error(tmp_path):
    store = DirectoryCertificateStore(tmp_path)

    with pytest.raises(SignatureError, match="no certificate SimpleNotificationService-0.pem in the configured"):
        store.get("https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0.pem")


def test_directory_store_finds_a_file_added_after_a_miss(pki, tmp_path):
    store = DirectoryCertificateStore(tmp_path)
    with pytest.raises(SignatureError):
        store.get(pki.cert_url)
    (tmp_path / pki.cert_path.name).write_bytes(pem_of(pki))

    assert store.get(pki.cert_url) == pki.certificate


@pytest.mark.parametrize(
    "name",
    ["..%2Foutside.pem", "%2e%2e%2foutside.pem", "..pem", ".hidden.pem", "a%00.pem"],
)
def test_directory_store_refuses_names_that_are_not_plain(pki, tmp_path, name):
    certs = tmp_path / "certs"
    certs.mkdir()
    (tmp_path / "outside.pem").write_bytes(pem_of(pki))
    (certs / name).write_bytes(pem_of(pki))  # even a same-named file must not be read

    with pytest.raises(SignatureError, match="not a plain file name"):
        DirectoryCertificateStore(certs).get(f"https://sns.us-east-1.amazonaws.com/{name}")


def test_directory_store_applies_the_url_rules(pki, tmp_path):
    (tmp_path / "SimpleNotificationService-abc.pem").write_bytes(pem_of(pki))

    with pytest.raises(SignatureError, match="https"):
        DirectoryCertificateStore(tmp_path).get(OUTSIDE_URL)


def test_directory_store_refuses_a_file_that_is_not_pem(tmp_path):
    (tmp_path / "SimpleNotificationService-abc.pem").write_text("<html>not a certificate</html>")

    with pytest.raises(SignatureError, match="not a PEM certificate"):
        DirectoryCertificateStore(tmp_path).get(
            "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem"
        )


# -- HttpsCertificateStore -------------------------------------------------------------


def test_https_store_fetches_once_per_url(pki):
    opener = FakeOpener(pem_of(pki))
    store = HttpsCertificateStore(opener=opener, timeout=2.5)

    assert store.get(pki.cert_url) == pki.certificate
    assert store.get(pki.cert_url) == pki.certificate
    assert opener.calls == [(pki.cert_url, 2.5)]


@pytest.mark.parametrize(
    "error",
    [
        urllib.error.URLError("no route"),
        TimeoutError("timed out"),
        ConnectionResetError(),
        http.client.IncompleteRead(b"-----BEGIN", 900),
        http.client.BadStatusLine("garbage"),
    ],
    ids=["urlerror", "timeout", "reset", "cut-off", "garbled"],
)
def test_https_store_network_error_is_unavailable_not_forgery(pki, error):
    store = HttpsCertificateStore(opener=FakeOpener(error))

    with pytest.raises(CertificateUnavailable):
        store.get(pki.cert_url)


def test_https_store_http_error_status_is_unavailable(pki):
    error = urllib.error.HTTPError(pki.cert_url, 503, "Service Unavailable", None, None)

    with pytest.raises(CertificateUnavailable):
        HttpsCertificateStore(opener=FakeOpener(error)).get(pki.cert_url)


def test_https_store_does_not_remember_a_failure(pki):
    opener = FakeOpener(urllib.error.URLError("blip"), pem_of(pki))
    store = HttpsCertificateStore(opener=opener)
    with pytest.raises(CertificateUnavailable):
        store.get(pki.cert_url)

    assert store.get(pki.cert_url) == pki.certificate
    assert len(opener.calls) == 2


def test_https_store_refuses_a_body_that_is_not_pem(pki):
    store = HttpsCertificateStore(opener=FakeOpener(b"<Error><Code>AccessDenied</Code></Error>"))

    with pytest.raises(SignatureError, match="not a PEM certificate"):
        store.get(pki.cert_url)


def test_https_store_refuses_an_oversized_body(pki):
    store = HttpsCertificateStore(opener=FakeOpener(pem_of(pki) + b"\n" * 100), max_bytes=len(pem_of(pki)))

    with pytest.raises(SignatureError, match="larger than"):
        store.get(pki.cert_url)


@pytest.mark.parametrize(
    "url",
    [
        OUTSIDE_URL,
        "https://sns.us-east-1.amazonaws.com.evil.com/SimpleNotificationService-abc.pem",
        "https://bucket.s3.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.us-east-1.amazonaws.com/?x=.pem",
    ],
)
def test_https_store_never_opens_a_url_that_fails_the_rules(url):
    opener = FakeOpener()

    with pytest.raises(SignatureError):
        HttpsCertificateStore(opener=opener).get(url)
    assert opener.calls == []


# -- the default urllib opener, against a local server ---------------------------------


@pytest.fixture
def local_server(pki, monkeypatch) -> Iterator[str]:
    """A plain-HTTP server: /cert.pem, /redirect (302 to /cert.pem), /big (1 MiB), /garbled (no HTTP)."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    body = pem_of(pki)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/garbled":
                self.wfile.write(b"NOT HTTP AT ALL\r\n\r\n")
                return
            if self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "/cert.pem")
                self.end_headers()
                return
            payload = body if self.path == "/cert.pem" else b"x" * (1 << 20)
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            with contextlib.suppress(OSError):  # the client stopped reading at its limit
                self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_default_opener_fetches(pki, local_server):
    assert urllib_opener(f"{local_server}/cert.pem", 5.0) == pem_of(pki)


def test_default_opener_does_not_follow_redirects(local_server):
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib_opener(f"{local_server}/redirect", 5.0)
    assert raised.value.code == 302


def test_default_opener_reads_only_one_byte_past_the_limit(local_server):
    assert len(urllib_opener(f"{local_server}/big", 5.0, max_bytes=1000)) == 1001


def test_a_server_answering_garbage_leaves_the_certificate_unavailable_not_forged(pki, local_server):
    # urllib lets http.client's BadStatusLine through unwrapped: it must still mean "retry".
    store = HttpsCertificateStore(opener=lambda url, timeout: urllib_opener(f"{local_server}/garbled", timeout))

    with pytest.raises(CertificateUnavailable):
        store.get(pki.cert_url)


# -- configuration ---------------------------------------------------------------------


def test_config_picks_the_directory_store_when_a_directory_is_set(pki):
    store = certificate_store_from_config(str(pki.directory))

    assert store.get(pki.cert_url) == pki.certificate


@pytest.mark.parametrize("cert_dir", [None, ""])
def test_config_falls_back_to_https(cert_dir):
    assert isinstance(certificate_store_from_config(cert_dir), HttpsCertificateStore)
