"""One webhook POST, to the address that was checked. The I/O shell around destinations.

tracker.outbound.destinations resolves the host and checks every address; this module
connects to those addresses and never resolves the name again, so a DNS answer that changes
between the check and the connection (DNS rebinding) cannot redirect the request. TLS is
still verified against the host name, as a browser would.

Nothing here raises for what the network or the subscriber does: refused connections,
timeouts, TLS failures and malformed responses come back as a Response with an error.
``timeout`` bounds the whole exchange, not each read, so a subscriber that trickles bytes
cannot hold a worker longer than a silent one.
"""
from __future__ import annotations

import dataclasses
import functools
import http.client
import io
import socket
import ssl
import time
from collections.abc import Mapping

from tracker.outbound.destinations import DEFAULT_PORTS, Destination

USER_AGENT = "delivery-status-tracker-webhooks/1"
TIMED_OUT = "timed out"


@dataclasses.dataclass(frozen=True)
class Response:
    """What one POST came to. ``status`` is None when no HTTP response arrived.

    ``error`` may be set alongside a status: the response line arrived but reading the body
    failed or ran out of time. ``latency_ms`` runs from before connecting to the last byte read.
    """

    status: int | None
    latency_ms: float
    error: str | None
    body_excerpt: bytes


def post(
    destination: Destination,
    body: bytes,
    headers: Mapping[str, str],
    *,
    timeout: float = 10.0,
    max_response_bytes: int = 4096,
    ssl_context: ssl.SSLContext | None = None,
) -> Response:
    """POST ``body`` with ``headers`` to ``destination``; never follows redirects, never raises
    for network errors.

    ``headers`` (the signature, an idempotency key, ...) are sent as given, except that Host,
    Content-Type, Content-Length, User-Agent and Connection are always ours. At most
    ``max_response_bytes`` of the response body are read. ``ssl_context`` defaults to
    ssl.create_default_context() (system CAs, host name checked).
    """
    started = time.monotonic()
    deadline = started + timeout
    context = ssl_context if ssl_context is not None else _default_context()
    connection = _PinnedConnection(destination, deadline, context)
    response: http.client.HTTPResponse | None = None
    status: int | None = None
    try:
        connection.connect()
        connection.request(
            "POST", destination.path_and_query, body=body, headers=_request_headers(destination, body, headers)
        )
        response = connection.getresponse()
        status = response.status
        excerpt = response.read(max_response_bytes) if max_response_bytes > 0 else b""
    except http.client.IncompleteRead as exc:
        # The body ended before its declared length: keep what came, the status stands.
        return Response(status, _ms_since(started), _describe(exc), exc.partial[:max_response_bytes])
    except (OSError, http.client.HTTPException) as exc:  # ssl.SSLError and TimeoutError are OSErrors
        return Response(status, _ms_since(started), _describe(exc), b"")
    finally:
        # Not reading the rest of the body is deliberate: we close instead of draining it.
        if response is not None:
            response.close()
        connection.close()
    return Response(status, _ms_since(started), None, excerpt)


class _PinnedConnection(http.client.HTTPConnection):
    """An HTTP(S) connection to the destination's checked addresses, under one deadline."""

    def __init__(self, destination: Destination, deadline: float, ssl_context: ssl.SSLContext) -> None:
        super().__init__(destination.host, destination.port)
        self.destination = destination
        self.deadline = deadline
        self.ssl_context = ssl_context
        self.response_class = functools.partial(_DeadlineResponse, deadline=deadline)

    def connect(self) -> None:
        sock = _open_socket(self.destination.addresses, self.destination.port, self.deadline)
        try:
            if self.destination.scheme == "https":
                sock.settimeout(_remaining(self.deadline))
                # server_hostname makes TLS (SNI and certificate checks) about the name the
                # subscriber gave, although the TCP connection goes to an address we chose.
                sock = self.ssl_context.wrap_socket(sock, server_hostname=self.destination.host)
            # sendall's timeout covers the whole send (Python >= 3.5): the request fits the deadline.
            sock.settimeout(_remaining(self.deadline))
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class _DeadlineResponse(http.client.HTTPResponse):
    """An HTTPResponse whose every read gets only the time left before the deadline."""

    def __init__(self, sock: socket.socket, *args, deadline: float, **kwargs) -> None:
        super().__init__(_DeadlineFiles(sock, deadline), *args, **kwargs)


class _DeadlineFiles:
    """Stands in for the socket HTTPResponse reads from: all it asks of it is makefile("rb")."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.deadline = deadline

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self.sock, self.deadline))


class _DeadlineReader(io.RawIOBase):
    """Socket reads, each with the socket timeout set to what is left of the deadline."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self.sock = sock
        # A SocketIO holds a reference that keeps the socket open until this reader closes,
        # even after HTTPConnection.close() (called early when the server says Connection: close).
        self.raw = sock.makefile("rb", buffering=0)
        self.deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int | None:
        self.sock.settimeout(_remaining(self.deadline))
        return self.raw.readinto(buffer)

    def close(self) -> None:
        if not self.closed:
            self.raw.close()
        super().close()


def _open_socket(addresses: tuple[str, ...], port: int, deadline: float) -> socket.socket:
    """A TCP connection to the first of ``addresses`` that accepts one before the deadline."""
    failures = []
    for address in addresses:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(_remaining(deadline))
            sock.connect((address, port))
        except OSError as exc:
            sock.close()
            failures.append(f"{address} port {port}: {_describe(exc)}")
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    raise ConnectionError("could not connect to " + "; ".join(failures) if failures else "no addresses to connect to")


def _request_headers(destination: Destination, body: bytes, extra: Mapping[str, str]) -> dict[str, str]:
    ours = {
        "Host": host_header(destination),
        "Content-Type": "application/json",
        "Content-Length": str(len(body)),
        "User-Agent": USER_AGENT,
        # One request per connection: the server need not keep it open for us.
        "Connection": "close",
    }
    reserved = {name.lower() for name in ours}
    return {**{name: value for name, value in extra.items() if name.lower() not in reserved}, **ours}


def host_header(destination: Destination) -> str:
    """The Host header: the name (an IPv6 address in brackets), and the port unless it is the default."""
    host = f"[{destination.host}]" if ":" in destination.host else destination.host
    if destination.port == DEFAULT_PORTS[destination.scheme]:
        return host
    return f"{host}:{destination.port}"


def _remaining(deadline: float) -> float:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError(TIMED_OUT)
    return remaining


def _describe(exc: BaseException) -> str:
    """The error as one line for the delivery log."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate verification failed: {exc.verify_message}"
    if isinstance(exc, TimeoutError):  # socket.timeout, and the TLS handshake's own timeout
        return TIMED_OUT
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    if isinstance(exc, http.client.RemoteDisconnected):
        return "the server closed the connection without a response"
    if isinstance(exc, http.client.IncompleteRead):
        return f"the response body ended early ({len(exc.partial)} bytes read)"
    if isinstance(exc, http.client.HTTPException):
        return f"invalid HTTP response ({type(exc).__name__}): {exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


@functools.lru_cache(maxsize=1)
def _default_context() -> ssl.SSLContext:
    # Built once, on first use (loading the system CA store is slow); contexts are thread-safe.
    return ssl.create_default_context()


def _ms_since(started: float) -> float:
    return (time.monotonic() - started) * 1000
