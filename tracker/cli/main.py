"""The `tracker` command: run the embedded tracker, serve, work, migrate, manage accounts and sources."""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import socket
import sys

import click

from tracker.cli.events import events, purge, rebuild
from tracker.cli.ses import ses
from tracker.cli.sqs import sqs_poll
from tracker.cli.webhooks import webhooks
from tracker.cli.output import emit, json_option
from tracker.config import Config
from tracker.providers.registry import NAMES as PROVIDERS
from tracker.providers.registry import SECRETS, SES
from tracker.providers.source_checks import secret_problem, topic_arn_problem


@click.group()
def main() -> None:
    """Email delivery status tracker."""
    from tracker.adapters import logs

    try:
        config = Config.from_env()
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    logs.setup(config.log_format, config.log_level)


def _config() -> Config:
    """The environment's settings; without TRACKER_SECRET_KEY, the local one `tracker run` keeps
    (var/secret.key), so that keys made here can verify Elevate JWTs in the default setup."""
    from tracker.cli import demo

    config = Config.from_env()
    if config.secret_key is None:
        config = dataclasses.replace(config, secret_key=demo.local_secret_key())
    return config


def _app(**kwargs):
    from tracker import create_app

    return create_app(_config(), **kwargs)


def _upgrade(app) -> None:
    from tracker.db import migrate

    migrate.upgrade(app.extensions["tracker"].db.engine)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
def run(host: str, port: int) -> None:
    """Migrate, set up a demo account and SES source, then serve and process in this one process."""
    from werkzeug.serving import make_server

    from tracker import create_app
    from tracker.cli import demo, demo_events
    from tracker.adapters.sns_certificates import certificate_store_from_config

    # `run` is the one-process form: it processes in-process even when a broker is configured,
    # and, being for development, lets webhooks use plain http.
    config = dataclasses.replace(_config(), broker_url=None, webhook_allow_http=True)
    app = create_app(config, certificates=demo.WithDemoCertificate(certificate_store_from_config(config.sns_cert_dir)))
    # The port first: nothing is set up, printed or minted for a run that cannot serve.
    busy = click.ClickException(f"cannot listen on {host}:{port} (in use, or not allowed); choose another port: "
                                f"tracker run --port {port + 1} (make run PORT={port + 1})")
    try:
        with socket.create_server((host, port)):  # werkzeug would print its own words and exit
            pass
        server = make_server(host, port, app, threaded=True)
    except (OSError, SystemExit):
        raise busy from None
    _upgrade(app)
    services = app.extensions["tracker"]
    with services.db.transaction() as session:
        key, source = demo.ensure_demo(session, secret_key=config.secret_key)
        operator_key = demo.ensure_demo_operator(session, secret_key=config.secret_key)
    fresh = demo_events.write_fresh_examples()
    base = f"http://{host}:{port}"
    click.echo(f"""
Tracker running at {base}  (database: {config.database_url}; processing in this process)
  API key (account "{demo.DEMO_ACCOUNT}"): {key}
  SES hook (any topic):      {base}/hooks/sns/{source.token}
  Dashboard:                 {base}/dashboard  (operator key: {operator_key})

Try it:
  curl -s -H 'Content-Type: text/plain' --data-binary @{fresh['ses-bounce.json']} {base}/hooks/sns/{source.token}
  curl -s -H 'Content-Type: text/plain' --data-binary @{fresh['ses-delivery.json']} {base}/hooks/sns/{source.token}
  curl -s -H 'Authorization: Bearer {key}' '{base}/api/v1/deliveries?status=BOUNCED'
""")
    services.waker.wake()  # process anything left pending by an earlier run
    services.webhook_waker.wake()  # and send webhooks still owed
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--bind", default="0.0.0.0:8080", show_default=True)
@click.option("--workers", default=lambda: 2 * (os.cpu_count() or 1) + 1, type=int)
@click.pass_context
def serve(ctx: click.Context, bind: str, workers: int) -> None:
    """Serve the receivers and APIs with gunicorn (extra arguments go to gunicorn).

    Its settings come from tracker.http.gunicorn_config (gunicorn's own refusals in JSON, the
    request line limit); arguments given here override them, and a --config of your own
    replaces that module.
    """
    os.execvp(sys.executable, [sys.executable, "-m", "gunicorn", "tracker.http.wsgi:app",
                               "--config", "python:tracker.http.gunicorn_config", "--bind", bind,
                               "--workers", str(workers), *ctx.args])


def _celery(*args: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "workers.celery_app", *args]


def _supervise(name: str, argv: list[str]) -> None:
    """Run ``argv`` under the supervisor (restarted if it dies) and leave with its exit status."""
    from workers.supervisor import Supervisor

    sys.exit(Supervisor(name, argv).run())


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--beat/--no-beat", default=True, show_default=True,
              help="Also run the beat scheduler (run it in exactly one process).")
@click.option("--webhooks", is_flag=True,
              help="Send outbound webhooks instead of processing the inbox (a thread pool on its own queue).")
@click.pass_context
def worker(ctx: click.Context, beat: bool, webhooks: bool) -> None:
    """Run a Celery worker, restarted if it dies (extra arguments go to `celery worker`).

    Run at least one inbox worker and one `--webhooks` worker: webhook POSTs wait on other
    people's servers, so they get their own queue and a thread pool, and a subscriber that
    hangs cannot take the processes that apply events. SIGTERM or Ctrl-C stops the worker
    after its running tasks; if it dies any other way it is started again (1 s, doubling to 30 s).
    """
    # Gossip, mingle and heartbeats are Celery's worker-to-worker chatter: the tracker uses none
    # of it, and without it a (re)started worker is ready a second sooner.
    argv = _celery("worker", "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat")
    if webhooks:
        argv += ["--queues", "webhooks", "--pool", "threads", "--concurrency", "16", "--hostname", "webhooks@%h"]
    else:
        argv += ["--queues", "celery"] + (["--beat"] if beat else [])
    _supervise("tracker worker" + (" --webhooks" if webhooks else ""), argv + list(ctx.args))


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def beat(ctx: click.Context) -> None:
    """Run the Celery beat scheduler alone, restarted if it dies (extra arguments go to `celery beat`)."""
    _supervise("tracker beat", _celery("beat", "--loglevel", "INFO", *ctx.args))


@main.group()
def db() -> None:
    """Database schema."""


@db.command()
def upgrade() -> None:
    """Apply every pending migration."""
    _upgrade(_app())
    click.echo("database is at the latest revision")


@main.group()
def accounts() -> None:
    """Accounts (tenants)."""


@accounts.command("create")
@click.argument("name")
def accounts_create(name: str) -> None:
    """Create an account and print its first API key (shown only this once)."""
    from tracker.db import repository

    services = _app().extensions["tracker"]
    with services.db.transaction() as session:
        if repository.account_by_name(session, name) is not None:
            raise click.ClickException(f"account {name!r} already exists")
        key = repository.create_api_key(session, repository.create_account(session, name),
                                        secret_key=services.config.secret_key)
    click.echo(f"account: {name}\napi key: {key}\n(store it now: only a hash is kept)")
    _jwt_note()


@accounts.command("list")
@json_option
def accounts_list(as_json: bool) -> None:
    """Every account: its id, when it was made, its live keys and sources."""
    from tracker.db import repository

    with _app().extensions["tracker"].db.session() as session:
        rows = [dataclasses.asdict(summary) for summary in repository.account_summaries(session)]
    emit(rows, ("id", "name", "created_at", "live_keys", "sources"), title="accounts", as_json=as_json)


@accounts.command("retention")
@click.argument("name")
@click.option("--raw-days", type=click.IntRange(min=1), help="keep raw events this many days (default: forever)")
@click.option("--delivery-days", type=click.IntRange(min=1), help="keep deliveries this many days (default: forever)")
def accounts_retention(name: str, raw_days: int | None, delivery_days: int | None) -> None:
    """Set how long an account's raw events and deliveries are kept (omit an option: forever)."""
    from tracker.db import repository

    with _app().extensions["tracker"].db.transaction() as session:
        account = repository.account_by_name(session, name)
        if account is None:
            raise click.ClickException(f"no account {name!r}")
        repository.set_retention(session, account, raw_days=raw_days, delivery_days=delivery_days)
    click.echo(f"{name}: raw events {raw_days or 'forever'} days, deliveries {delivery_days or 'forever'} days")


class _Rate(click.ParamType):
    """A rate as a fraction (0.05) or a percentage (5%)."""

    name = "rate"

    def convert(self, value, param, ctx):
        text = str(value).strip()
        try:
            return float(text[:-1]) / 100 if text.endswith("%") else float(text)
        except ValueError:
            self.fail(f"{value!r} is not a rate (0.05 or 5%)", param, ctx)


@accounts.command("set-thresholds")
@click.argument("name")
@click.option("--bounce-warning", type=_Rate(), help="bounce rate that means warning (SES: 5%)")
@click.option("--bounce-at-risk", type=_Rate(), help="bounce rate that means at risk (SES pauses at 10%)")
@click.option("--complaint-warning", type=_Rate(), help="complaint rate that means warning (SES: 0.1%)")
@click.option("--complaint-at-risk", type=_Rate(), help="complaint rate that means at risk (SES pauses at 0.5%)")
@click.option("--min-sent", type=click.IntRange(min=0), help="fewer sent in the window: healthy (default 100)")
@click.option("--ses-defaults", is_flag=True, help="start from SES's thresholds instead of the current ones")
def accounts_set_thresholds(name: str, ses_defaults: bool, **given) -> None:
    """Set an account's reputation thresholds (options not given keep their current value)."""
    from tracker.db import repository
    from tracker.domain.reputation import SES_DEFAULTS

    with _app().extensions["tracker"].db.transaction() as session:
        account = repository.account_by_name(session, name)
        if account is None:
            raise click.ClickException(f"no account {name!r}")
        current = SES_DEFAULTS if ses_defaults else repository.thresholds_of(session, account.id)
        thresholds = dataclasses.replace(current, **{k: v for k, v in given.items() if v is not None})
        problems = thresholds.problems()
        if problems:
            raise click.ClickException("; ".join(problems))
        repository.set_thresholds(session, account.id, thresholds)
    click.echo(f"{name}: bounce warning {thresholds.bounce_warning:.2%}, at risk {thresholds.bounce_at_risk:.2%}; "
               f"complaint warning {thresholds.complaint_warning:.2%}, at risk {thresholds.complaint_at_risk:.2%}; "
               f"min sent {thresholds.min_sent}")


@main.group()
def keys() -> None:
    """API keys."""


@keys.command("create")
@click.option("--account", "account_name", required=True)
@click.option("--operator", is_flag=True, help="may also use the admin API (failed events, replay, discard)")
@click.option("--read-only", is_flag=True, help="may only read (GET) through every API style")
def keys_create(account_name: str, operator: bool, read_only: bool) -> None:
    """Create another API key for an account and print it (shown only this once)."""
    from tracker.db import repository

    services = _app().extensions["tracker"]
    with services.db.transaction() as session:
        account = repository.account_by_name(session, account_name)
        if account is None:
            raise click.ClickException(f"no account {account_name!r}")
        if operator and read_only:
            raise click.UsageError("a key is either --operator or --read-only")
        role = "operator" if operator else "read-only" if read_only else "application"
        key = repository.create_api_key(session, account, role=role, secret_key=services.config.secret_key)
    click.echo(f"api key: {key}\n(store it now: only a hash is kept)")
    _jwt_note()


def _jwt_note() -> None:
    """Say which secret the key was sealed under for Elevate JWTs, when it is not the environment's."""
    if not os.environ.get("TRACKER_SECRET_KEY"):
        click.echo("(sealed for Elevate JWTs under var/secret.key, as `tracker run` uses; a server elsewhere "
                   "verifies its JWTs only with TRACKER_SECRET_KEY set to that file's content)")


@keys.command("list")
@click.option("--account", "account_name", required=True)
@json_option
def keys_list(account_name: str, as_json: bool) -> None:
    """An account's keys: id, role, created, revoked, whether it can verify JWTs (the secrets are not kept)."""
    from tracker.db import repository

    with _app().extensions["tracker"].db.session() as session:
        account = repository.account_by_name(session, account_name)
        if account is None:
            raise click.ClickException(f"no account {account_name!r}")
        rows = [{"key_id": key.key_id, "role": key.role, "created_at": key.created_at, "revoked_at": key.revoked_at,
                 "state": "revoked" if key.revoked_at else "live", "verifies_jwts": key.sealed_key is not None}
                for key in repository.keys_of(session, account)]
    emit(rows, ("key_id", "role", "created_at", "state", "verifies_jwts"), title=f"keys of {account_name}",
         as_json=as_json)


@keys.command("revoke")
@click.argument("key_id")
def keys_revoke(key_id: str) -> None:
    """Revoke a key by its id (the 16 hex characters after trk_): every API style refuses it at once."""
    from tracker.db import repository

    with _app().extensions["tracker"].db.transaction() as session:
        if not repository.revoke_key(session, key_id):
            raise click.ClickException(f"no live key {key_id}")
    click.echo(f"revoked {key_id}")


@main.group()
def sources() -> None:
    """Inbound sources (where providers push events)."""


@sources.command("create")
@click.option("--account", "account_name", required=True)
@click.option("--provider", type=click.Choice(PROVIDERS), required=True)
@click.option("--topic-arn", "topic_arns", multiple=True,
              help="SES: SNS TopicArn to accept (repeatable); '*' accepts any topic.")
@click.option("--secret", help="Webhook providers: " + "; ".join(f"{p}: {what}" for p, (what, _) in SECRETS.items()))
def sources_create(account_name: str, provider: str, topic_arns: tuple[str, ...], secret: str | None) -> None:
    """Create a source and print its hook path.

    The secret and topic ARNs are checked by the receiver's own code: a source that could
    never accept an event is refused now, not on its first webhook.
    """
    from tracker.db import repository

    if provider == SES and not topic_arns:
        raise click.UsageError("give at least one --topic-arn (or '*' for any topic)")
    if provider != SES and topic_arns:
        raise click.UsageError("--topic-arn is for SES sources only")
    problems = [secret_problem(provider, secret), *map(topic_arn_problem, topic_arns)]
    if any(problems):
        raise click.UsageError("; ".join(p for p in problems if p))
    app = _app()
    with app.extensions["tracker"].db.transaction() as session:
        account = repository.account_by_name(session, account_name)
        if account is None:
            raise click.ClickException(f"no account {account_name!r}")
        source = repository.create_source(session, account, provider, topic_arns, secret)
    click.echo(_hook(source))


def _hook(source) -> str:
    return f"/hooks/{'sns' if source.provider == 'ses' else source.provider}/{source.token}"


def _source_row(source, account_name: str) -> dict:
    return {"id": source.id, "account": account_name, "provider": source.provider, "hook": _hook(source),
            "topic_arns": list(source.topic_arns or []) if source.provider == "ses" else None,
            "secret": "set" if source.secret else "none", "created_at": source.created_at}


@sources.command("list")
@click.option("--account", "account_name", help="only this account's")
@json_option
def sources_list(account_name: str | None, as_json: bool) -> None:
    """Every source with its hook path (append it to the tracker's public URL), topics and whether a secret is set."""
    from tracker.db import repository

    with _app().extensions["tracker"].db.session() as session:
        account_id = None
        if account_name is not None:
            account = repository.account_by_name(session, account_name)
            if account is None:
                raise click.ClickException(f"no account {account_name!r}")
            account_id = account.id
        rows = [_source_row(source, name) for source, name in repository.all_sources(session, account_id)]
    emit(rows, ("id", "account", "provider", "hook", "topic_arns", "secret", "created_at"), title="sources",
         as_json=as_json)


@sources.command("show")
@click.argument("source_id", type=int)
@click.option("--public-url", envvar="TRACKER_PUBLIC_URL", help="the tracker's public base URL, for the full hook URL")
@json_option
def sources_show(source_id: int, public_url: str | None, as_json: bool) -> None:
    """One source: its hook URL (to configure at the provider again), topics, whether a secret is set."""
    from tracker.db import repository

    with _app().extensions["tracker"].db.session() as session:
        source = repository.source_by_id(session, source_id)
        if source is None:
            raise click.ClickException(f"no source {source_id}")
        row = _source_row(source, _account_name(session, source.account_id))
    if public_url:
        row["hook_url"] = public_url.rstrip("/") + row["hook"]
    if as_json:
        click.echo(json.dumps({k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in row.items()}, indent=2))
    else:
        for name, value in row.items():
            click.echo(f"{name}: {', '.join(value) if isinstance(value, list) else value}")


def _account_name(session, account_id: int) -> str:
    from tracker.db import repository

    return repository.account_name(session, account_id)


@sources.command("rotate-secret")
@click.argument("source_id", type=int)
@click.option("--secret", required=True, help="the provider's new secret (checked as at creation)")
def sources_rotate_secret(source_id: int, secret: str) -> None:
    """Replace a webhook source's secret (after rotating it at the provider); the hook URL stays.

    Running receivers use the new secret within 10 seconds (they cache sources that long).
    """
    from tracker.db import repository

    with _app().extensions["tracker"].db.transaction() as session:
        source = repository.source_by_id(session, source_id)
        if source is None:
            raise click.ClickException(f"no source {source_id}")
        problem = secret_problem(source.provider, secret)
        if problem:
            raise click.UsageError(problem)
        repository.set_source_secret(session, source, secret)
    click.echo(f"source {source_id} ({source.provider}): secret replaced; hook {_hook(source)}")


main.add_command(sqs_poll, "sqs-poll")
main.add_command(events)
main.add_command(rebuild)
main.add_command(purge)
main.add_command(webhooks)
main.add_command(ses)


if __name__ == "__main__":
    main()
