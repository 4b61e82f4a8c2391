"""The request id's sanitising, and the log line formats (tracker.adapters.logs)."""
from __future__ import annotations

import json
import logging
import re

import pytest

from tracker.adapters import logs
from tracker.config import Config

HEX_ID = re.compile(r"[0-9a-f]{32}")


@pytest.mark.parametrize("incoming", ["a", "req-1234", "9f8e7d6c-5b4a-4321-8fed-cba987654321", "trace:1-67891233.x_z",
                                      "x" * logs.REQUEST_ID_LENGTH])
def test_a_short_token_of_safe_characters_is_kept(incoming):
    assert logs.request_id_from(incoming) == incoming


@pytest.mark.parametrize("incoming", [None, "", "x" * (logs.REQUEST_ID_LENGTH + 1), "two words", "a\nb", "a\rb",
                                      "tab\there", "quote\"d", "<script>", "semi;colon", "ünïcode", "a\x00b",
                                      "%0a", "slash/ed", "sp ", "back\\slash", "a=b"])
def test_anything_else_is_replaced_by_a_new_random_id(incoming):
    first, second = logs.request_id_from(incoming), logs.request_id_from(incoming)
    assert HEX_ID.fullmatch(first) and HEX_ID.fullmatch(second)
    assert first != second


def _line(formatter: logging.Formatter, message: str, *args, exc_info=None) -> str:
    record = logging.LogRecord("tracker.test", logging.WARNING, __file__, 1, message, args, exc_info)
    logs.ContextFilter().filter(record)
    return formatter.format(record)


def test_a_json_line_is_one_object_with_the_context_known_and_the_exception_as_a_string():
    formatter = logs.JsonFormatter()
    assert json.loads(_line(formatter, "plain")).keys() == {"time", "level", "logger", "message"}
    try:
        raise RuntimeError("boom\nsecond line")
    except RuntimeError:
        import sys

        failure = sys.exc_info()
    with logs.context(request_id="req-1", inbox_id=42), logs.context(task_id="task-9"):
        line = _line(formatter, "row %s says %r\u2028", 42, "multi\nline", exc_info=failure)
    assert "\n" not in line and "\u2028" not in line  # one line whatever the message holds
    entry = json.loads(line)
    assert entry["time"].endswith("+00:00") and entry["time"][10] == "T"
    assert (entry["level"], entry["logger"], entry["message"]) == ("WARNING", "tracker.test",
                                                                    "row 42 says 'multi\\nline'\u2028")
    assert (entry["request_id"], entry["inbox_id"], entry["task_id"]) == ("req-1", 42, "task-9")
    assert entry["exception"].startswith("Traceback") and "RuntimeError: boom\nsecond line" in entry["exception"]
    # The block is over: the ids are gone.
    assert "request_id" not in json.loads(_line(formatter, "after"))


def test_a_text_line_names_the_context_before_any_traceback():
    with logs.context(request_id="req-1", inbox_id=7):
        line = _line(logs.TextFormatter(), "hello")
    assert line.endswith(" WARNING tracker.test: hello [request_id=req-1 inbox_id=7]")
    assert _line(logs.TextFormatter(), "hello").endswith("tracker.test: hello")


def test_the_log_settings_are_read_and_checked_like_the_others():
    assert (Config.from_env({}).log_format, Config.from_env({}).log_level) == ("text", "INFO")
    config = Config.from_env({"TRACKER_LOG_FORMAT": "JSON", "TRACKER_LOG_LEVEL": "debug"})
    assert (config.log_format, config.log_level) == ("json", "DEBUG")
    with pytest.raises(ValueError, match="TRACKER_LOG_FORMAT must be one of text, json, got 'yaml'"):
        Config.from_env({"TRACKER_LOG_FORMAT": "yaml"})
    with pytest.raises(ValueError, match="TRACKER_LOG_LEVEL"):
        Config.from_env({"TRACKER_LOG_LEVEL": "loud"})


def test_the_tracker_command_refuses_an_unknown_log_format_in_one_line():
    from click.testing import CliRunner

    from tracker.cli.main import main

    result = CliRunner().invoke(main, ["db", "upgrade"], env={"TRACKER_LOG_FORMAT": "yaml"})
    assert result.exit_code == 1
    assert "TRACKER_LOG_FORMAT must be one of text, json, got 'yaml'" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
