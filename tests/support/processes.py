"""Real processes for end-to-end tests: gunicorn, a Celery worker, `tracker run`; stopped on exit."""
from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from collections.abc import Iterator

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running(argv: list[str], env: dict[str, str], log: Path, cwd: Path = ROOT,
            stderr: Path | None = None) -> Iterator[subprocess.Popen]:
    """Start ``argv`` (in ``cwd``) in its own process group; stop the whole group afterwards.

    Its output goes to ``log``; its stderr too, unless ``stderr`` names a file of its own.
    """
    with log.open("wb") as out, (stderr.open("wb") if stderr else contextlib.nullcontext()) as err:
        process = subprocess.Popen(argv, cwd=cwd, env={**os.environ, **env}, stdout=out,
                                   stderr=err or subprocess.STDOUT, start_new_session=True)
        try:
            yield process
        finally:
            stop(process)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM the process group of ``process`` (started with start_new_session), SIGKILL if it lingers."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(wait)
            break
        except subprocess.TimeoutExpired:
            continue


def wait_for_port(port: int, process: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited early:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"port {port} never opened:\n{log.read_text()[-3000:]}")


def wait_for_log(log: Path, needle: str, process: subprocess.Popen, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace") if log.exists() else ""
        if needle in text:
            return text
        if process.poll() is not None:
            raise RuntimeError(f"process exited early:\n{text[-3000:]}")
        time.sleep(0.1)
    raise TimeoutError(f"{needle!r} never appeared:\n{log.read_text(errors='replace')[-3000:]}")


def http(method: str, url: str, body: bytes | None = None, headers: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def poll(predicate, timeout: float = 30, interval: float = 0.2):
    """Call ``predicate`` until it returns something truthy; that value, or None at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return None


def python(*args: str) -> list[str]:
    return [sys.executable, *args]


def find_deliveries(base: str, key: str, **params) -> list[dict]:
    """GET /api/v1/deliveries on a running tracker; the items."""
    query = "&".join(f"{k}={v}" for k, v in params.items())
    status, body = http("GET", f"{base}/api/v1/deliveries?{query}", headers={"Authorization": f"Bearer {key}"})
    assert status == 200, body
    return body["data"]
