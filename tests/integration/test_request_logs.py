"""Request ids through real processes: gunicorn and a Celery worker logging JSON (TRACKER_LOG_FORMAT=json).

One signed SES notification sent with an X-Request-Id: the answer echoes the id, the inbox
row keeps it, the operator's views show it, and the worker's line for applying the row
carries it with the Celery task's id. Every line either process writes on stderr is one
JSON object.
"""
from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.integration.conftest import stack_env
from tests.support.harness import FIXTURES, drain, make_tenant
from tests.support.processes import free_port, poll, python, running, wait_for_log, wait_for_port
from tests.support.sns_signing import notification

pytestmark = pytest.mark.integration

FIELDS = {"time", "level", "logger", "message"}


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict, str | None]:
    """(status, JSON body, X-Request-Id of the answer)."""
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read()), response.headers.get("X-Request-Id")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), error.headers.get("X-Request-Id")


def json_lines(path: Path, *, writing: bool = False) -> list[dict]:
    """Every line of ``path`` as JSON; fails naming the first line that is not one JSON object.

    ``writing``: the process still runs, so a last line without its newline may be half written.
    """
    lines = path.read_text(errors="replace").split("\n")
    if writing:
        lines.pop()
    entries = []
    for number, line in enumerate(lines, 1):
        if not line and number == len(lines):
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            pytest.fail(f"{path.name} line {number} is not JSON: {line[:300]!r}")
        assert isinstance(entry, dict) and entry.keys() >= FIELDS, f"{path.name} line {number}: {line[:300]}"
        entries.append(entry)
    return entries


def test_a_request_id_goes_from_the_receiver_to_the_inbox_row_and_the_worker_in_json_logs(app, pg_url, redis_url,
                                                                                         pki, tmp_path):
    from tracker.db import repository

    tenant = make_tenant(app, "acme", ["*"])
    with app.extensions["tracker"].db.transaction() as session:
        account = repository.account_by_name(session, "acme")
        operator = repository.create_api_key(session, account, role="operator",
                                             secret_key=app.extensions["tracker"].config.secret_key)
        # A secret no Mailgun request can be checked against (stored before the rule): the
        # receiver logs the misconfiguration, inside the request.
        mailgun = repository.create_source(session, account, "mailgun", (), None)
        mailgun_hook = f"/hooks/mailgun/{mailgun.token}"

    # DEBUG: the worker logs a line per applied row only at DEBUG (it costs the worker CPU per row).
    env = stack_env(pg_url, redis_url, pki, TRACKER_LOG_FORMAT="json", TRACKER_LOG_LEVEL="DEBUG")
    port, base = free_port(), None
    web_err, worker_err = tmp_path / "web.err", tmp_path / "worker.err"
    with running(python("-m", "tracker.cli.main", "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1"),
                 env, tmp_path / "web.out", stderr=web_err) as web, \
         running(python("-m", "tracker.cli.main", "worker", "--concurrency", "1",
                        "--schedule", str(tmp_path / "beat-schedule")),
                 env, tmp_path / "worker.out", stderr=worker_err) as worker:
        wait_for_port(port, web, web_err)
        wait_for_log(worker_err, " ready.", worker)
        base = f"http://127.0.0.1:{port}"

        bounce = json.loads((FIXTURES / "ses/notification/bounce-permanent.json").read_text())
        envelope = json.dumps(pki.sign(notification(bounce))).encode()
        status, body, echoed = post(base + tenant.hook, envelope, {"Content-Type": "text/plain; charset=UTF-8",
                                                                   "X-Request-Id": "req-1234.abc_DEF:5"})
        assert (status, body["status"], echoed) == (200, "stored", "req-1234.abc_DEF:5")
        inbox_id = body["inbox_id"]

        # The row keeps it, and the operator sees it: the admin API and `tracker events show`.
        with app.extensions["tracker"].db.session() as session:
            assert repository.inbox_event(session, inbox_id).request_id == "req-1234.abc_DEF:5"
        request = urllib.request.Request(f"{base}/api/v1/admin/events/{inbox_id}",
                                         headers={"Authorization": f"Bearer {operator}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read())["request_id"] == "req-1234.abc_DEF:5"
        shown = subprocess.run(python("-m", "tracker.cli.main", "events", "show", str(inbox_id)), env={
            **env, "TRACKER_LOG_FORMAT": "text", "COLUMNS": "200"}, capture_output=True, text=True, timeout=60)
        assert shown.returncode == 0, shown.stderr
        assert "request id req-1234.abc_DEF:5" in shown.stdout

        # The worker that applies the row logs its request id, row and task.
        def applied() -> dict | None:
            return next((entry for entry in json_lines(worker_err, writing=True)
                         if entry["message"].startswith(f"applied inbox row {inbox_id} ")), None)

        line = poll(applied, timeout=30)
        assert line is not None, worker_err.read_text()[-3000:]
        assert (line["request_id"], line["inbox_id"], line["level"]) == ("req-1234.abc_DEF:5", inbox_id, "DEBUG")
        assert line["logger"] == "tracker.pipeline.ingest" and line["task_id"]

        # An id that is no short token of safe characters is replaced, not echoed; and the lines
        # a request logs carry its id.
        status, body, echoed = post(base + mailgun_hook, b"{}", {"Content-Type": "application/json",
                                                                 "X-Request-Id": "x" * 65})
        assert status == 503 and echoed and echoed != "x" * 65 and len(echoed) == 32

        def misconfigured() -> dict | None:
            return next((entry for entry in json_lines(web_err, writing=True)
                         if "unusable secret" in entry["message"]), None)

        line = poll(misconfigured, timeout=10)
        assert line is not None, web_err.read_text()[-3000:]
        assert (line["request_id"], line["level"]) == (echoed, "ERROR")

    # Stopped: shutdown lines included, every stderr line of both is one JSON object.
    web_entries, worker_entries = json_lines(web_err), json_lines(worker_err)
    [access] = [entry for entry in web_entries if entry["logger"] == "gunicorn.access" and "POST /hooks/sns/" in
                entry["message"]]
    assert access["request_id"] == "req-1234.abc_DEF:5"
    assert any(entry["logger"].startswith("celery") for entry in worker_entries)
    assert any(entry["logger"] == "tracker.supervisor" for entry in worker_entries)


def test_a_webhook_row_keeps_its_request_id_and_every_answer_carries_one(app):
    """In process: the webhook receivers store the id too; refusals, API errors and 404s echo or make one."""
    import base64

    from tracker.db import repository

    with app.extensions["tracker"].db.transaction() as session:
        account = repository.create_account(session, "acme")
        source = repository.create_source(session, account, "postmark", (), "hook-user:hook-pass")
        hook = f"/hooks/postmark/{source.token}"
    client = app.test_client()
    basic = "Basic " + base64.b64encode(b"hook-user:hook-pass").decode()

    answer = client.post(hook, data=(FIXTURES / "postmark/delivery.json").read_bytes(),
                         headers={"Content-Type": "application/json", "Authorization": basic,
                                  "X-Request-Id": "pm-42"})
    assert (answer.status_code, answer.headers["X-Request-Id"]) == (200, "pm-42")
    with app.extensions["tracker"].db.session() as session:
        [row] = repository.list_inbox_events(session, repository.EventFilter(state="pending", account_id=account.id),
                                             after_id=0, limit=10)
        assert row.request_id == "pm-42"

    made = set()
    for method, path, headers in (("POST", hook, {}),  # unauthenticated
                                  ("GET", "/api/v1/deliveries", {}),  # no key
                                  ("GET", "/no/such/page", {"X-Request-Id": "a b"}),  # an unsafe id
                                  ("GET", "/api/v1/deliveries", {"X-Request-Id": "\u00e9t\u00e9"})):
        answer = client.open(path, method=method, headers=headers)
        assert answer.status_code >= 400
        [echoed] = answer.headers.getlist("X-Request-Id")
        assert len(echoed) == 32 and echoed not in made
        made.add(echoed)


def test_an_acknowledgement_keeps_the_request_id_on_its_inbox_row(app, pki):
    """The native acknowledge writes an inbox row like a receiver does: it keeps the request's id too."""
    from tests.support.ses_events import bounce
    from tracker.db import repository
    from tracker.providers.acknowledgements import parse as acknowledgements

    tenant = make_tenant(app, "acme", ["*"])
    client = app.test_client()
    envelope = json.dumps(pki.sign(notification(bounce("m1", "r@example.com", "Permanent", "fb1",
                                                       "2026-11-20T10:00:00.000Z"))))
    assert client.post(tenant.hook, data=envelope).status_code == 200
    drain(app)
    [delivery] = client.get("/api/v1/deliveries", headers=tenant.auth).json["data"]

    answer = client.post(f"/api/v1/deliveries/{delivery['id']}/acknowledge",
                         headers={**tenant.auth, "X-Request-Id": "ack-77"})
    assert (answer.status_code, answer.headers["X-Request-Id"]) == (200, "ack-77")
    with app.extensions["tracker"].db.session() as session:
        [row] = repository.list_inbox_events(session, repository.EventFilter(
            provider=acknowledgements.PROVIDER, account_id=tenant.account_id), after_id=0, limit=10)
        assert row.request_id == "ack-77"
