"""A real HTTP server on loopback standing in for an application's webhook endpoint."""
from __future__ import annotations

import contextlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from collections.abc import Iterator


class Receiver:
    """Answers with the scripted statuses in turn (then the last one forever) and records requests."""

    def __init__(self, port: int = 0, statuses=(200,), hang: float = 0.0, on_request=None):
        self.statuses = list(statuses)
        self.hang = hang
        self.on_request = on_request  # called with each recorded request before it is answered
        self.requests: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append({"headers": dict(self.headers), "body": body,
                                          "json": json.loads(body or b"null")})
                if receiver.on_request is not None:
                    receiver.on_request(receiver.requests[-1])
                if receiver.hang:
                    time.sleep(receiver.hang)
                status = receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks/tracker"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def receiving(**kwargs) -> Iterator[Receiver]:
    receiver = Receiver(**kwargs)
    try:
        yield receiver
    finally:
        receiver.stop()
