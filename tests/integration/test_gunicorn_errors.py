"""`tracker serve`: what gunicorn answers itself (before the app) is JSON too, and 405 names what is allowed."""
from __future__ import annotations

import json
import socket

import pytest

from tests.support.processes import free_port, python, running, wait_for_port


@pytest.fixture(scope="module")
def served(pg_url, tmp_path_factory):
    port, log = free_port(), tmp_path_factory.mktemp("serve") / "web.log"
    with running(python("-m", "tracker.cli.main", "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1"),
                 {"TRACKER_DATABASE_URL": pg_url}, log) as web:
        wait_for_port(port, web, log)
        yield port


def exchange(port: int, raw: bytes) -> tuple[int, dict, bytes]:
    """Send raw bytes (so that nothing cleans them up on the way); the status, headers and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


def get(port: int, target: str, *extra_headers: str) -> tuple[int, dict, bytes]:
    lines = [f"GET {target} HTTP/1.1", "Host: tracker", "Connection: close", *extra_headers]
    return exchange(port, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))


def json_error(headers: dict, body: bytes) -> dict:
    assert headers["content-type"].startswith("application/json")
    found = json.loads(body)
    assert set(found) == {"error", "detail"} and found["error"] and found["detail"]
    return found


def test_a_request_line_past_the_limit_is_a_json_414(served):
    status, headers, body = get(served, "/api/v1/deliveries?message_id=" + "m" * 9000)
    assert status == 414
    assert json_error(headers, body)["error"] == "uri_too_long"


def test_a_request_line_a_proxy_passes_reaches_the_app(served):
    # 6 KiB: past gunicorn's default limit (4094), within common proxies' 8 KiB
    status, headers, body = get(served, "/api/v1/deliveries?message_id=" + "m" * 6000)
    assert status == 401 and json_error(headers, body)["error"] == "unauthorized"


@pytest.mark.parametrize("header", ["X-Note: a\x00b", "X-Note: a\x01b", "Bad Name: x", "X-Note: " + "n" * 9000])
def test_headers_gunicorn_refuses_are_a_json_4xx(served, header):
    status, headers, body = get(served, "/api/v1/deliveries", header)
    assert status in (400, 431)
    json_error(headers, body)


def test_too_many_headers_is_a_json_431(served):
    status, headers, body = get(served, "/api/v1/deliveries", *(f"X-N{i}: {i}" for i in range(150)))
    assert status == 431
    assert json_error(headers, body)["error"] == "request_header_fields_too_large"


def test_a_method_a_route_does_not_serve_is_a_405_naming_those_it_does(served):
    status, headers, body = exchange(served, b"DELETE /v1/email-status HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                                              b"Content-Length: 0\r\n\r\n")
    assert status == 405 and {m.strip() for m in headers["allow"].split(",")} >= {"GET", "HEAD"}
    json_error(headers, body)
