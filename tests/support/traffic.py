"""Steady webhook traffic for fault tests: threads posting distinct Infobip delivery reports until stopped.

Infobip authenticates a notify URL by its path token alone, so a sender costs no signing
CPU and the machine's two cores go to the tracker. Each report is the recorded delivered
fixture with its own messageId, so each one acknowledged is one inbox row.
"""
from __future__ import annotations

import collections
import json
import threading
import urllib.error
import urllib.request

from tests.support.webhooks.infobip import fixture


class Traffic:
    def __init__(self, hook_url: str, *, senders: int = 3, prefix: str = "load") -> None:
        self._url = hook_url
        self._senders = senders
        self._prefix = prefix
        self._template = json.loads(fixture("dlr/delivered.json"))
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.answers: collections.Counter = collections.Counter()  # HTTP status (or error name) -> count

    @property
    def acknowledged(self) -> int:
        return self.answers[200]

    def __enter__(self) -> Traffic:
        for number in range(self._senders):
            thread = threading.Thread(target=self._send, args=(number,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def _send(self, sender: int) -> None:
        sequence = 0
        while not self._stop.is_set():
            sequence += 1
            report = json.loads(json.dumps(self._template))
            report["results"][0]["messageId"] = f"{self._prefix}-{sender}-{sequence}"
            request = urllib.request.Request(self._url, data=json.dumps(report).encode(), method="POST",
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    outcome = response.status
            except urllib.error.HTTPError as error:
                outcome = error.code
            except OSError as error:
                outcome = type(error).__name__
            with self._lock:
                self.answers[outcome] += 1
