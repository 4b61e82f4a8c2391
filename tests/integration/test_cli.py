"""The `tracker` command as an operator meets it (issue 14, finding 6).

Sources are checked at creation by the receivers' own code; accounts, sources and keys can
be listed (tables for people, --json for scripts), a source's secret rotated and its hook
recovered; `tracker run` checks its port before anything else and keeps one demo key; keys
made by the CLI in the default setup verify Elevate JWTs, and a 401 says what is missing.
Real PostgreSQL (the CLI in-process, through click's runner) and real processes for `run`.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest
from click.testing import CliRunner

from tests.support.webhooks import sendgrid as sendgrid_hooks
from tracker.cli.main import main

REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli(pg_db, tmp_path, monkeypatch):
    """Runs `tracker ...` on the test database, without TRACKER_SECRET_KEY, in a fresh directory (its var/)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRACKER_SECRET_KEY", raising=False)
    env = {"TRACKER_DATABASE_URL": pg_db.url, "TRACKER_BROKER_URL": "", "COLUMNS": "200"}

    def run(*args: str, ok: bool = True):
        result = CliRunner().invoke(main, list(args), env=env)
        if ok:
            assert result.exit_code == 0, result.output
        return result
    run("accounts", "create", "acme")
    return run


@pytest.mark.parametrize("provider, secret, complaint", [
    ("sendgrid", "anything", "verification key"),
    ("sendgrid", "", "blank"),
    ("postmark", "no-colon", "user:password"),
    ("infobip", "user-only:", "user:password"),
    ("mailgun", " ", "blank"),
    ("mailgun", None, "need a secret"),
    ("sendcloud", None, "need a secret"),
])
def test_a_secret_the_receiver_could_never_use_is_refused_at_creation(cli, provider, secret, complaint):
    args = ["sources", "create", "--account", "acme", "--provider", provider]
    result = cli(*args, *(["--secret", secret] if secret is not None else []), ok=False)
    assert result.exit_code == 2 and complaint in result.output, result.output
    assert json.loads(cli("sources", "list", "--json").output) == []


def test_ses_sources_refuse_a_secret_and_topics_that_are_no_arn(cli):
    ses = ["sources", "create", "--account", "acme", "--provider", "ses"]
    refused = cli(*ses, "--topic-arn", "*", "--secret", "s3cret", ok=False)
    assert refused.exit_code == 2 and "SES sources take no secret" in refused.output
    refused = cli(*ses, "--topic-arn", "not-an-arn", ok=False)
    assert refused.exit_code == 2 and "not an SNS topic ARN" in refused.output
    assert cli(*ses, "--topic-arn", "arn:aws:sns:eu-west-1:123456789012:ses-events").output.startswith("/hooks/sns/")


def test_sources_are_listed_shown_and_their_secrets_rotated(cli):
    key = sendgrid_hooks.new_secret()
    hook = cli("sources", "create", "--account", "acme", "--provider", "sendgrid", "--secret", key).output.strip()
    cli("sources", "create", "--account", "acme", "--provider", "ses", "--topic-arn", "*")

    [sendgrid, ses] = json.loads(cli("sources", "list", "--account", "acme", "--json").output)
    assert (sendgrid["provider"], sendgrid["hook"], sendgrid["secret"], sendgrid["account"]) == (
        "sendgrid", hook, "set", "acme")
    assert (ses["provider"], ses["topic_arns"], ses["secret"]) == ("ses", ["*"], "none")
    table = cli("sources", "list").output
    assert hook in table and "sendgrid" in table and "│" in table  # a table for people
    shown = cli("sources", "show", str(sendgrid["id"]), "--public-url", "https://t.example.com/").output
    assert f"hook_url: https://t.example.com{hook}" in shown  # the hook URL, recovered

    refused = cli("sources", "rotate-secret", str(sendgrid["id"]), "--secret", "not-a-key", ok=False)
    assert refused.exit_code == 2 and "verification key" in refused.output
    assert "secret replaced" in cli("sources", "rotate-secret", str(sendgrid["id"]), "--secret",
                                    sendgrid_hooks.new_secret()).output
    assert cli("sources", "rotate-secret", str(ses["id"]), "--secret", "x", ok=False).exit_code == 2


def test_accounts_and_keys_are_listed_as_tables_or_json(cli):
    cli("accounts", "create", "beta")
    cli("keys", "create", "--account", "beta", "--read-only")
    accounts = json.loads(cli("accounts", "list", "--json").output)
    assert [(a["name"], a["live_keys"], a["sources"]) for a in accounts] == [("acme", 1, 0), ("beta", 2, 0)]
    assert "acme" in cli("accounts", "list").output
    keys = json.loads(cli("keys", "list", "--account", "beta", "--json").output)
    assert sorted(k["role"] for k in keys) == ["application", "read-only"]
    assert all(k["state"] == "live" and k["verifies_jwts"] for k in keys)


def test_webhook_subscriptions_are_listed_as_a_table_or_json(cli, monkeypatch):
    monkeypatch.setenv("TRACKER_WEBHOOKS_ALLOW_HTTP", "1")
    monkeypatch.setenv("TRACKER_WEBHOOKS_ALLOWED_NETWORKS", "127.0.0.0/8:*")
    assert json.loads(cli("webhooks", "list", "--account", "acme", "--json").output) == []
    failures = cli("webhooks", "create", "--account", "acme", "--url", "http://127.0.0.1:8001/failures",
                   "--status", "BOUNCED", "--status", "COMPLAINT").output
    cli("webhooks", "create", "--account", "acme", "--url", "http://127.0.0.1:8001/everything")
    secret = failures.split("secret: ")[1].split()[0]
    everything_id = json.loads(cli("webhooks", "list", "--account", "acme", "--json").output)[1]["id"]
    cli("webhooks", "update", str(everything_id), "--disable")

    listed = cli("webhooks", "list", "--account", "acme", "--json").output
    [first, second] = json.loads(listed)
    assert (first["url"], first["statuses"], first["active"], first["state"]) == (
        "http://127.0.0.1:8001/failures", ["BOUNCED", "COMPLAINT"], True, "active")
    assert (second["url"], second["statuses"], second["active"]) == ("http://127.0.0.1:8001/everything", [], False)
    assert second["id"] == everything_id and second["state"].startswith("disabled")
    assert {"created_at", "updated_at", "disabled_at", "failing_since"} <= set(first)
    assert secret not in listed and "secret" not in first  # shown once, at creation
    table = cli("webhooks", "list", "--account", "acme").output
    assert "│" in table and "/failures" in table and "all statuses" in table and "disabled" in table  # for people
    assert cli("webhooks", "list", "--account", "nobody", "--json", ok=False).exit_code == 1


def test_events_list_shows_every_state_when_asked(cli, app, pki):
    from tests.support.harness import drain, make_tenant
    from tests.support.sns_signing import notification
    from tests.support.ses_events import for_message

    tenant = make_tenant(app, "other", ["*"])
    client = app.test_client()
    good = for_message("event/delivery.json", "m1", ["a@example.com"], delivery={"recipients": ["a@example.com"]})
    bad = for_message("event/delivery.json", "", ["b@example.com"], delivery={"recipients": ["b@example.com"]})
    for message in (good, bad):
        assert client.post(tenant.hook, data=json.dumps(pki.sign(notification(message)))).status_code == 200
    drain(app)

    every = json.loads(cli("events", "list", "--state", "all", "--json").output)
    assert sorted(e["state"] for e in every) == ["failed", "processed"]
    assert [e["state"] for e in json.loads(cli("events", "list", "--json").output)] == ["failed"]
    assert "processed" in cli("events", "list", "--state", "all").output


@pytest.mark.parametrize("command", [("events", "list"), ("events", "replay", "--all-failed"), ("events", "show", "1"),
                                     ("accounts", "list"), ("db", "upgrade")], ids=" ".join)
def test_a_command_while_the_database_is_away_says_so_in_one_line(tmp_path, monkeypatch, command):
    """An operator drilling an outage gets a refusal they can read ("Error: database unavailable ..."), as
    `tracker sqs-poll --once` gives it, not SQLAlchemy's traceback."""
    monkeypatch.chdir(tmp_path)
    env = {"TRACKER_DATABASE_URL": "postgresql+psycopg2://postgres@127.0.0.1:1/none", "TRACKER_BROKER_URL": ""}

    result = CliRunner().invoke(main, list(command), env=env)

    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    said = result.output.strip()
    assert said.startswith("Error: database unavailable") and "127.0.0.1" in said and "\n" not in said, said


def test_keys_made_by_the_cli_verify_elevate_jwts_in_the_default_setup(cli, pg_db, tmp_path):
    from tracker import create_app
    from tracker.cli import demo
    from tracker.config import Config

    key = [line for line in cli("keys", "create", "--account", "acme").output.splitlines()
           if line.startswith("api key: ")][0].removeprefix("api key: ")
    token = jwt.encode({"iat": int(time.time())}, key, algorithm="HS256", headers={"kid": key.split("_")[1]})

    # The server as `tracker run` makes it: the same local secret file.
    assert (tmp_path / "var" / "secret.key").exists()
    served = create_app(Config(database_url=pg_db.url, secret_key=demo.local_secret_key())).test_client()
    assert served.get("/v1/email-status", headers={"Authorization": f"Bearer {token}"}).status_code == 200

    # A server without the secret says what is missing.
    bare = create_app(Config(database_url=pg_db.url)).test_client()
    refused = bare.get("/v1/email-status", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401 and "TRACKER_SECRET_KEY" in refused.json["detail"]


def test_a_key_made_without_any_secret_is_refused_with_the_reason(app, tenant):
    from tracker.db import repository
    from tracker.db.models import Account

    with app.extensions["tracker"].db.transaction() as session:
        key = repository.create_api_key(session, session.get(Account, tenant.account_id))  # no secret: not sealed
    token = jwt.encode({}, key, algorithm="HS256", headers={"kid": key.split("_")[1]})
    refused = app.test_client().get("/v1/email-status", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401
    assert "created without TRACKER_SECRET_KEY" in refused.json["detail"]
    assert app.test_client().get("/v1/email-status", headers={"Authorization": f"Bearer {key}"}).status_code == 200


# --- tracker run and make run -------------------------------------------------------------------


def _run(directory: Path, port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    env["PYTHONPATH"] = str(REPOSITORY)
    return subprocess.Popen([sys.executable, "-m", "tracker.cli.main", "run", "--port", str(port)], cwd=directory,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _banner_key(process: subprocess.Popen) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if "API key (account" in line:
            return line.rsplit(" ", 1)[-1].strip()
        assert line or process.poll() is None, "tracker run ended before its banner"
    raise AssertionError("no banner")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_tracker_run_checks_its_port_first_and_keeps_one_demo_key(tmp_path):
    port = _free_port()
    first = _run(tmp_path, port)
    try:
        key = _banner_key(first)
        # The port is taken now: a second run says so, prints no banner and makes no key.
        busy = _run(tmp_path, port)
        output, _ = busy.communicate(timeout=60)
        assert busy.returncode != 0 and f"cannot listen on 127.0.0.1:{port}" in output
        assert "API key" not in output and "Tracker running" not in output
    finally:
        first.terminate()
        first.communicate(timeout=30)
    again = _run(tmp_path, port)
    try:
        assert _banner_key(again) == key  # the same demo key, not a new live one per run
    finally:
        again.terminate()
        again.communicate(timeout=30)


def test_make_run_takes_a_port():
    plan = subprocess.run(["make", "-n", "-o", ".venv/.installed-run", "run", "PORT=8081"], cwd=REPOSITORY,
                          capture_output=True, text=True, check=True).stdout
    assert "tracker run --host 127.0.0.1 --port 8081" in plan
