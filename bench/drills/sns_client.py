"""An SNS-like sender: concurrent POSTs, each retried on 5xx, timeouts and connection errors.

SNS treats any 2xx as delivered, any other 4xx as a permanent failure (no retry), and
retries 5xx, timeouts and connection errors with a backoff, for as long as the delivery
policy allows. Here the backoff is exponential (0.2 s doubling to 4 s, with jitter) and
the policy's end is ``retry_for`` seconds after the first attempt (or ``max_attempts``).
With ``rate``, first attempts are spread evenly, as a steady stream of events would come.
"""
from __future__ import annotations

import dataclasses
import http.client
import queue
import random
import threading
import time
from collections import Counter
from collections.abc import Sequence


@dataclasses.dataclass(frozen=True)
class Send:
    """One POST to make (a MessageId posted twice is two sends with the same key)."""

    key: str
    path: str
    body: bytes
    headers: dict[str, str]


@dataclasses.dataclass
class Fate:
    """What became of one send."""

    key: str
    attempts: int = 0
    answers: Counter = dataclasses.field(default_factory=Counter)  # status code or error name -> count
    acknowledged_at: float | None = None  # seconds since the sender started
    refused: int | None = None  # a 4xx: SNS stops there
    gave_up: bool = False


class Sender:
    """Posts sends from ``concurrency`` threads; counts acknowledgements as they come."""

    def __init__(self, port: int, *, concurrency: int = 16, timeout: float = 10.0, retry_for: float = 300.0,
                 max_attempts: int | None = None, seed: int = 0, started: float | None = None,
                 rate: float | None = None) -> None:
        self.port = port
        self.concurrency = concurrency
        self.timeout = timeout
        self.retry_for = retry_for
        self.max_attempts = max_attempts
        self.rate = rate  # first attempts per second, None: as fast as the receiver answers
        self.started = time.monotonic() if started is None else started
        self.fates: list[Fate] = []
        self._acknowledged = 0
        self._done = 0
        self._changed = threading.Condition()
        self._random = random.Random(seed)

    @property
    def acknowledged(self) -> int:
        return self._acknowledged

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def post_all(self, sends: Sequence[Send]) -> list[Fate]:
        """Post every send (blocking until each is acknowledged, refused or given up)."""
        work: queue.SimpleQueue = queue.SimpleQueue()
        fates = [Fate(send.key) for send in sends]
        begin = time.monotonic()
        for index, pair in enumerate(zip(sends, fates, strict=True)):
            work.put((*pair, begin + index / self.rate if self.rate else None))
        threads = [threading.Thread(target=self._drain, args=(work,), daemon=True)
                   for _ in range(min(self.concurrency, len(sends)))]
        for thread in threads:
            work.put(None)
            thread.start()
        for thread in threads:
            thread.join()
        with self._changed:
            self.fates.extend(fates)
        return fates

    def wait_acknowledged(self, count: int) -> None:
        """Block until ``count`` sends (of any post_all call) have been acknowledged."""
        with self._changed:
            self._changed.wait_for(lambda: self._acknowledged >= count)

    def _drain(self, work: queue.SimpleQueue) -> None:
        while (item := work.get()) is not None:
            self._deliver(*item)

    def _deliver(self, send: Send, fate: Fate, due: float | None) -> None:
        if due is not None:
            time.sleep(max(0.0, due - time.monotonic()))
        first = time.monotonic()
        backoff = 0.2
        while True:
            fate.attempts += 1
            answer = self._attempt(send)
            fate.answers[answer] += 1
            if isinstance(answer, int) and 200 <= answer < 300:
                fate.acknowledged_at = self.elapsed()
                with self._changed:
                    self._acknowledged += 1
                    self._changed.notify_all()
                return
            if isinstance(answer, int) and 400 <= answer < 500 and answer != 429:
                fate.refused = answer
                return
            out_of_time = time.monotonic() - first > self.retry_for
            if out_of_time or (self.max_attempts and fate.attempts >= self.max_attempts):
                fate.gave_up = True
                return
            time.sleep(backoff * (0.5 + self._random.random()))
            backoff = min(backoff * 2, 4.0)

    def _attempt(self, send: Send) -> int | str:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            connection.request("POST", send.path, body=send.body, headers=send.headers)
            response = connection.getresponse()
            response.read()
            return response.status
        except TimeoutError:
            return "timeout"
        except (OSError, http.client.HTTPException) as error:
            return type(error).__name__
        finally:
            connection.close()
