"""The pinned POST against real servers on 127.0.0.1: plain HTTP, HTTPS with a test CA, and
misbehaving raw sockets (silent, trickling, not HTTP)."""
from __future__ import annotations

import datetime
import socket
import ssl
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tracker.outbound.destinations import Destination
from tracker.outbound.http import USER_AGENT, host_header, post

HOST = "webhooks.test"  # never resolved: the tests pass if and only if no DNS is needed
BODY = b'{"message_id":"0100-abc","status":"delivered"}'
SIGNED = {"X-Tracker-Timestamp": "1718000000", "X-Tracker-Signature": "v1=abc"}
BIG = b"x" * 100_000


# -- a plain HTTP server that records what it was sent --------------------------------------


class Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    requests: list  # set per server below

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
        route = self.path.split("?")[0]
        if route == "/redirect":
            self.reply(302, b"", {"Location": "/ok"})
        elif route == "/unavailable":
            self.reply(503, b"try later")
        elif route == "/big":
            self.reply(200, BIG)
        elif route == "/big-chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(25):
                chunk = b"y" * 4000
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.reply(200, b"thanks")

    def reply(self, status: int, body: bytes, headers: dict | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:  # keep test output quiet
        pass


def serve(context: ssl.SSLContext | None = None):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    server.daemon_threads = True
    server.requests = []
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server, thread


@pytest.fixture
def http_server():
    server, thread = serve()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def destination(port: int, path: str = "/ok", *, scheme: str = "http", host: str = HOST,
                addresses: tuple[str, ...] = ("127.0.0.1",)) -> Destination:
    return Destination(scheme=scheme, host=host, port=port, path_and_query=path, addresses=addresses)


# -- a test CA and a certificate for webhooks.test --------------------------------------------


class Pki:
    """A throwaway CA and a server certificate it signed for HOST, written as PEM files."""

    def __init__(self, directory: Path) -> None:
        now = datetime.datetime.now(datetime.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Outbound Webhooks Test CA")])
        ca = (
            self._builder(ca_name, ca_name, ca_key.public_key(), now)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(self._usage(cert_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        leaf_key = ec.generate_private_key(ec.SECP256R1())
        leaf = (
            self._builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)]), ca_name,
                          leaf_key.public_key(), now)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(self._usage(cert_sign=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        self.ca_file = directory / "ca.pem"
        self.cert_file = directory / "server.pem"
        self.key_file = directory / "server.key"
        self.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        self.cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
        self.key_file.write_bytes(leaf_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ))

    @staticmethod
    def _builder(subject, issuer, public_key, now):
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
        )

    @staticmethod
    def _usage(cert_sign: bool) -> x509.KeyUsage:
        return x509.KeyUsage(
            digital_signature=not cert_sign, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign, crl_sign=cert_sign,
            encipher_only=False, decipher_only=False,
        )

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts the test CA and nothing else."""
        return ssl.create_default_context(cafile=str(self.ca_file))


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    return Pki(tmp_path_factory.mktemp("outbound-pki"))


@pytest.fixture
def https_server(pki):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.cert_file, pki.key_file)
    server_names: list[str | None] = []
    context.sni_callback = lambda _socket, name, _context: server_names.append(name)
    server, thread = serve(context)
    server.server_names = server_names
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


# -- raw sockets that misbehave ------------------------------------------------------------------


class RawServer:
    """Accepts connections on 127.0.0.1 and hands each to ``script(connection, stop)``."""

    def __init__(self, script: Callable[[socket.socket, threading.Event], None]) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.port = self.listener.getsockname()[1]
        self.script = script
        self.stop = threading.Event()
        self.requests: list[bytes] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                connection, _ = self.listener.accept()
            except (TimeoutError, OSError):
                continue
            with connection:
                self.requests.append(read_request(connection))
                self.script(connection, self.stop)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.listener.close()


def read_request(connection: socket.socket) -> bytes:
    """The whole request, body included: a server that closes with request bytes unread makes the
    kernel send a reset, which can discard the answer it wrote before the client reads it."""
    connection.settimeout(2)
    received = b""
    while b"\r\n\r\n" not in received or len(received) < _request_length(received):
        chunk = connection.recv(65536)
        if not chunk:
            break
        received += chunk
    return received


def _request_length(received: bytes) -> int:
    head, _, _ = received.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(head) + 4 + int(value)
    return len(head) + 4


@pytest.fixture
def raw_server():
    servers: list[RawServer] = []

    def start(script):
        servers.append(RawServer(script))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def unused_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


# -- plain HTTP ----------------------------------------------------------------------------------


def test_posts_to_the_checked_address_with_the_hostname_in_host(http_server):
    port = http_server.server_address[1]

    response = post(destination(port, "/ok?app=7"), BODY, {**SIGNED, "host": "evil.example"})

    assert response.status == 200
    assert response.error is None
    assert response.body_excerpt == b"thanks"
    assert 0 < response.latency_ms < 5000
    [request] = http_server.requests
    assert request["path"] == "/ok?app=7"
    assert request["body"] == BODY
    headers = request["headers"]
    assert headers["Host"] == f"{HOST}:{port}"  # ours, not the caller's
    assert headers["Content-Type"] == "application/json"
    assert headers["Content-Length"] == str(len(BODY))
    assert headers["User-Agent"] == USER_AGENT == "delivery-status-tracker-webhooks/1"
    assert headers["X-Tracker-Timestamp"] == "1718000000"
    assert headers["X-Tracker-Signature"] == "v1=abc"


def test_tries_the_next_address_when_one_refuses(http_server):
    # 127.0.0.2 is loopback too, but the server listens on 127.0.0.1 only.
    port = http_server.server_address[1]

    response = post(destination(port, addresses=("127.0.0.2", "127.0.0.1")), BODY, SIGNED)

    assert response.status == 200
    assert len(http_server.requests) == 1


def test_a_refused_connection_is_an_error_not_an_exception():
    port = unused_port()

    response = post(destination(port, addresses=("127.0.0.2", "127.0.0.1")), BODY, SIGNED, timeout=2)

    assert response.status is None
    assert response.body_excerpt == b""
    assert response.error == (
        f"could not connect to 127.0.0.2 port {port}: connection refused; "
        f"127.0.0.1 port {port}: connection refused"
    )


def test_a_redirect_is_returned_not_followed(http_server):
    response = post(destination(http_server.server_address[1], "/redirect"), BODY, SIGNED)

    assert response.status == 302
    assert response.error is None
    assert [r["path"] for r in http_server.requests] == ["/redirect"]


def test_an_error_status_is_returned_with_its_body(http_server):
    response = post(destination(http_server.server_address[1], "/unavailable"), BODY, SIGNED)

    assert (response.status, response.error, response.body_excerpt) == (503, None, b"try later")


@pytest.mark.parametrize("path", ["/big", "/big-chunked"])
@pytest.mark.parametrize("limit", [4096, 10])
def test_a_large_response_body_is_cut_at_the_limit(http_server, path, limit):
    response = post(destination(http_server.server_address[1], path), BODY, SIGNED, max_response_bytes=limit)

    assert response.status == 200
    assert response.error is None
    assert len(response.body_excerpt) == limit


def test_the_default_limit_is_4096_bytes(http_server):
    response = post(destination(http_server.server_address[1], "/big"), BODY, SIGNED)

    assert response.body_excerpt == BIG[:4096]


# -- HTTPS ------------------------------------------------------------------------------------


def test_https_connects_to_the_address_and_verifies_the_hostname(https_server, pki):
    port = https_server.server_address[1]

    response = post(destination(port, scheme="https"), BODY, SIGNED, ssl_context=pki.client_context())

    assert (response.status, response.error, response.body_excerpt) == (200, None, b"thanks")
    assert https_server.server_names == [HOST]  # SNI carried the name, not 127.0.0.1
    assert https_server.requests[0]["headers"]["Host"] == f"{HOST}:{port}"


def test_https_refuses_a_certificate_for_another_name(https_server, pki):
    port = https_server.server_address[1]

    response = post(destination(port, scheme="https", host="other.test"), BODY, SIGNED,
                    ssl_context=pki.client_context())

    assert response.status is None
    assert response.error.startswith("TLS certificate verification failed: ")
    assert "other.test" in response.error
    assert https_server.requests == []


def test_https_by_default_trusts_only_the_system_cas(https_server):
    response = post(destination(https_server.server_address[1], scheme="https"), BODY, SIGNED, timeout=5)

    assert response.status is None
    assert response.error.startswith("TLS certificate verification failed: ")
    assert https_server.requests == []


def test_https_to_a_plain_http_server_is_a_tls_error(http_server, pki):
    response = post(destination(http_server.server_address[1], scheme="https"), BODY, SIGNED,
                    timeout=5, ssl_context=pki.client_context())

    assert response.status is None
    assert response.error.startswith("TLS error: ")


# -- misbehaving servers -------------------------------------------------------------------------


def test_a_silent_server_times_out_within_the_timeout():
    # The kernel completes the TCP handshake for a listening socket nobody accepts from, so
    # the request is sent and the answer never comes.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        started = time.monotonic()
        response = post(destination(silent.getsockname()[1]), BODY, SIGNED, timeout=0.5)
        elapsed = time.monotonic() - started

    assert response.status is None
    assert response.error == "timed out"
    assert 0.45 <= elapsed < 1.5
    assert 450 <= response.latency_ms < 1500


def test_the_timeout_bounds_the_whole_exchange_not_each_read(raw_server):
    def trickle(connection, stop):
        connection.sendall(b"HTTP/1.1 200 OK\r\n")
        while not stop.wait(0.05):  # one header byte every 50 ms, never finishing
            connection.sendall(b"X")

    server = raw_server(trickle)
    started = time.monotonic()
    response = post(destination(server.port), BODY, SIGNED, timeout=0.5)
    elapsed = time.monotonic() - started

    assert response.error == "timed out"
    assert response.status is None
    assert elapsed < 1.5


def test_a_body_that_stalls_keeps_the_status(raw_server):
    def stall(connection, stop):
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhalf")
        stop.wait(5)

    server = raw_server(stall)
    response = post(destination(server.port), BODY, SIGNED, timeout=0.5)

    assert (response.status, response.error) == (200, "timed out")


def test_a_body_cut_short_keeps_the_status_and_what_arrived(raw_server):
    server = raw_server(lambda connection, stop: connection.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhalf"))

    response = post(destination(server.port), BODY, SIGNED, timeout=2)

    assert (response.status, response.body_excerpt) == (200, b"half")


def test_a_chunked_body_cut_short_keeps_the_status_and_what_arrived(raw_server):
    server = raw_server(lambda connection, stop: connection.sendall(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nhalf\r\n64\r\nmore"))

    response = post(destination(server.port), BODY, SIGNED, timeout=2)

    assert response.status == 200
    assert response.body_excerpt.startswith(b"half")
    assert response.error.startswith("the response body ended early")


def test_a_server_that_hangs_up_without_answering(raw_server):
    server = raw_server(lambda connection, stop: None)

    response = post(destination(server.port), BODY, SIGNED, timeout=2)

    assert response.status is None
    assert response.error == "the server closed the connection without a response"


def test_a_server_that_does_not_speak_http(raw_server):
    server = raw_server(lambda connection, stop: connection.sendall(b"SSH-2.0-OpenSSH_9.6\r\n"))

    response = post(destination(server.port), BODY, SIGNED, timeout=2)

    assert response.status is None
    assert response.error.startswith("invalid HTTP response (BadStatusLine)")


@pytest.mark.parametrize("host, expected", [("2001:db8::1", "[2001:db8::1]:{port}"), (HOST, HOST + ":{port}")])
def test_the_host_header_names_the_host_not_the_address(raw_server, host, expected):
    server = raw_server(lambda connection, stop: connection.sendall(b"HTTP/1.1 204 No Content\r\n\r\n"))

    response = post(destination(server.port, host=host), BODY, SIGNED, timeout=2)

    assert response.status == 204
    [request] = server.requests
    assert f"\r\nHost: {expected.format(port=server.port)}\r\n".encode() in request


@pytest.mark.parametrize(
    "scheme, host, port, expected",
    [
        ("http", HOST, 80, HOST),
        ("https", HOST, 443, HOST),
        ("https", HOST, 80, HOST + ":80"),
        ("http", HOST, 443, HOST + ":443"),
        ("https", "2001:db8::1", 443, "[2001:db8::1]"),
        ("https", "2001:db8::1", 8443, "[2001:db8::1]:8443"),
    ],
)
def test_the_host_header_leaves_out_the_default_port(scheme, host, port, expected):
    assert host_header(destination(port, scheme=scheme, host=host)) == expected


def test_a_destination_without_addresses_is_an_error():
    response = post(destination(443, addresses=()), BODY, SIGNED, timeout=1)

    assert (response.status, response.error) == (None, "no addresses to connect to")
