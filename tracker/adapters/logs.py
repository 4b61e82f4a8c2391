"""The one logging setup of every process (app, gunicorn, Celery, sqs-poll, CLI): text or JSON lines on stderr.

Each record carries what is known of the work in hand, from context variables: the request
id (an HTTP request's, or the SQS MessageId; stored on the inbox row, so the worker that
applies the row logs it again), the inbox row's id and the Celery task's id.
"""
from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import logging.config
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

TEXT, JSON = "text", "json"
FORMATS = (TEXT, JSON)

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("tracker_request_id", default=None)
inbox_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("tracker_inbox_id", default=None)
task_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("tracker_task_id", default=None)
CONTEXT = (("request_id", request_id), ("inbox_id", inbox_id), ("task_id", task_id))

# An incoming X-Request-Id is kept only when it is this: short, and nothing a log line, a
# header or a terminal could misread (no spaces, quotes, control characters or escapes).
REQUEST_ID_LENGTH = 64
_SAFE_REQUEST_ID = re.compile(rf"[A-Za-z0-9._:-]{{1,{REQUEST_ID_LENGTH}}}")


def request_id_from(incoming: str | None) -> str:
    """``incoming`` if it is a short token of safe characters, else a new random id."""
    if incoming is not None and _SAFE_REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


@contextlib.contextmanager
def context(**values) -> Iterator[None]:
    """Set some of request_id / inbox_id / task_id for the log lines written inside the block."""
    variables = dict(CONTEXT)
    tokens = [(variables[name], variables[name].set(value)) for name, value in values.items()]
    try:
        yield
    finally:
        for variable, token in reversed(tokens):
            variable.reset(token)


class ContextFilter(logging.Filter):
    """Copies the context variables onto each record (unless the call gave them in ``extra``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, variable in CONTEXT:
            if getattr(record, name, None) is None:
                setattr(record, name, variable.get())
        if record.name == "gunicorn.access" and isinstance(record.args, dict) and record.request_id is None:
            # Written once the request is over; gunicorn passes the response's headers along.
            record.request_id = record.args.get("{x-request-id}o")
        return True


def _context_of(record: logging.LogRecord) -> list[tuple[str, object]]:
    return [(name, value) for name, _ in CONTEXT if (value := getattr(record, name, None)) is not None]


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message [request_id=... inbox_id=... task_id=...]``, then any traceback."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        text = super().formatMessage(record)
        known = _context_of(record)
        return f"{text} [{' '.join(f'{name}={value}' for name, value in known)}]" if known else text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (ISO 8601, UTC), level, logger, message, the context, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **dict(_context_of(record)),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # ASCII only: no character in the line (U+2028 included) can split it for a reader.
        return json.dumps(entry, default=str)


def dict_config(log_format: str = TEXT, level: str = "INFO") -> dict:
    """The logging configuration (for logging.config.dictConfig, or gunicorn's logconfig_dict)."""
    if log_format not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, got {log_format!r}")
    formatter = JsonFormatter if log_format == JSON else TextFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": ContextFilter}},
        "formatters": {"tracker": {"()": formatter}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                                "formatter": "tracker", "filters": ["context"]}},
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            # gunicorn's loggers lose the handlers it gives them and write through the root's.
            # With a logging configuration gunicorn writes an access line per request: at INFO.
            "gunicorn.error": {"level": level, "handlers": [], "propagate": True},
            "gunicorn.access": {"level": level, "handlers": [], "propagate": True},
            "alembic.runtime.plugins": {"level": "WARNING"},  # one line per plugin at each migration
            # At DEBUG, SQLAlchemy would log every statement and row (its echo): not what DEBUG asks for.
            "sqlalchemy": {"level": "WARNING"},
        },
    }


def setup(log_format: str = TEXT, level: str = "INFO") -> bool:
    """Log to stderr in ``log_format`` unless this process has configured logging already; whether it did.

    The first caller configures (the CLI, gunicorn's logconfig_dict, the app factory in a
    Celery process); later calls (the app factory's, Celery's setup_logging) change
    nothing, and neither does the app factory under a test runner that holds the root logger.
    """
    if logging.getLogger().handlers:
        return False
    logging.config.dictConfig(dict_config(log_format, level))
    logging.captureWarnings(True)  # a library's warnings become log lines, in the same format
    return True
