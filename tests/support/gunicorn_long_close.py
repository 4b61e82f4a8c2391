"""`tracker serve`'s gunicorn settings with gunicorn's wait for a closing client made 60 s long.

gunicorn waits up to 2 s after an answer for the client to close its side (RFC 9112, 9.6). A
test that a worker does not wait for a client with nothing more to send would tell the two
apart only by those 2 s; at 60 s a wait fails it unmistakably (its client gives up at 10 s).
"""
from __future__ import annotations

import functools

from gunicorn import util

from tracker.http.gunicorn_config import *  # noqa: F403 - the settings under test, unchanged

_close_graceful = util.close_graceful


def post_fork(server, worker) -> None:
    util.close_graceful = functools.partial(_close_graceful, timeout=60.0)
