"""gunicorn's settings for `tracker serve`; its own refusals answer JSON like every other error.

gunicorn answers some requests before the app sees them (a request line past
limit_request_line: 414; headers past their limits: 431; a malformed request line or header,
a control character in one: 400), and writes those answers as HTML pages. on_starting puts
a writer of the tracker's {"error", "detail"} shape in place of gunicorn's (util.write_error,
which every worker class calls; the workers inherit it from the master). No API style can be
told before the request line is read, so these come in the native shape.

Logging is the tracker's own (tracker.adapters.logs, TRACKER_LOG_FORMAT): gunicorn's
loggers write through the same stderr handler as the app's, in the same format.
"""
from __future__ import annotations

import json
import logging
import os

from gunicorn import util

from tracker.adapters import logs
from tracker.config import Config
from tracker.http import gunicorn_worker
from tracker.http.errors import error_name

# A sync worker (one request at a time per process, as gunicorn's "sync"), but a connection wakes
# one idle worker instead of every one of them (tracker.http.gunicorn_worker says why). Its name
# ends in SyncWorker, so --threads N still makes gunicorn pick gthread, as it does for "sync".
worker_class = gunicorn_worker.DOTTED_NAME

# gunicorn's ceiling (its default is 4094). Common proxies pass request lines of up to 8 KiB
# (nginx's large_client_header_buffers), so a URL a proxy forwards is not refused here.
limit_request_line = 8190

_config = Config.from_env()
logconfig_dict = logs.dict_config(_config.log_format, _config.log_level)


def write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """util.write_error's contract (a whole response on a closing connection), written as JSON."""
    body = json.dumps({"error": error_name(reason), "detail": mesg}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1")
    util.write_nonblock(sock, head + body)


def on_starting(server) -> None:
    util.write_error = write_json_error
    logging.captureWarnings(True)  # as logs.setup does: warnings in the same format (the workers inherit it)
    accesslog = server.cfg.accesslog
    if accesslog and accesslog != "-":
        # logconfig_dict replaced the handler gunicorn gave --access-logfile: put it back, so a file
        # asked for on the command line still gets its lines (in --access-logformat's format).
        server.log._set_handler(server.log.access_log, accesslog, logging.Formatter("%(message)s"))


def child_exit(server, worker) -> None:
    """A dead worker's live gauges leave the shared metrics directory (prometheus-client's rule)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
