"""The `tracker` command: run the embedded tracker, serve, work, migrate, manage accounts and sources."""
from __future__ import annotations

import dataclasses
import logging
import os
import sys

import click

from tracker.cli_operations import events, purge, rebuild
from tracker.cli_ses import ses
from tracker.cli_sqs import sqs_poll
from tracker.cli_webhooks import webhooks
from tracker.config import Config

PROVIDERS = ("ses", "infobip", "sendcloud", "sendgrid", "mailgun", "postmark")
# What --secret is for each provider; those marked required refuse to run unauthenticated
# because the provider can sign or send credentials.
SECRETS = {
    "infobip": ("optional: 'user:password' for HTTP Basic auth on the notify URL", False),
    "sendcloud": ("the APP KEY that signs webhooks", True),
    "sendgrid": ("optional: the Event Webhook verification key (base64 DER public key)", False),
    "mailgun": ("the HTTP webhook signing key", True),
    "postmark": ("'user:password' for the HTTP Basic auth in the webhook URL", True),
}


@click.group()
def main() -> None:
    """Email delivery status tracker."""
    logging.basicConfig(level=os.environ.get("TRACKER_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def _app(**kwargs):
    from tracker import create_app

    return create_app(Config.from_env(), **kwargs)


def _upgrade(app) -> None:
    from tracker import migrate

    migrate.upgrade(app.extensions["tracker"].db.engine)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
def run(host: str, port: int) -> None:
    """Migrate, set up a demo account and SES source, then serve and process in this one process."""
    from werkzeug.serving import make_server

    from tracker import demo, repository
    from tracker.authenticity.certificates import certificate_store_from_config

    from tracker import create_app

    # `run` is the one-process form: it processes in-process even when a broker is configured,
    # and, being for development, lets webhooks use plain http.
    config = dataclasses.replace(Config.from_env(), broker_url=None, webhook_allow_http=True)
    if config.secret_key is None:
        config = dataclasses.replace(config, secret_key=demo.local_secret_key())
    app = create_app(config, certificates=demo.WithDemoCertificate(certificate_store_from_config(config.sns_cert_dir)))
    _upgrade(app)
    services = app.extensions["tracker"]
    with services.db.transaction() as session:
        account = repository.account_by_name(session, demo.DEMO_ACCOUNT)
        if account is None:
            account = repository.create_account(session, demo.DEMO_ACCOUNT)
            repository.create_source(session, account, "ses", ["*"])
        source = repository.sources_of(session, account, "ses")[0]
        # Keys are stored hashed, so the one from an earlier run cannot be shown again:
        # each start issues a fresh demo key (earlier ones stay valid).
        key = repository.create_api_key(session, account, secret_key=config.secret_key)
    base = f"http://{host}:{port}"
    click.echo(f"""
Tracker running at {base}  (database: {config.database_url}; processing in this process)
  API key (account "{demo.DEMO_ACCOUNT}"): {key}
  SES hook (any topic):      {base}/hooks/sns/{source.token}

Try it:
  curl -s -H 'Content-Type: text/plain' --data-binary @{demo.example('ses-bounce.json')} {base}/hooks/sns/{source.token}
  curl -s -H 'Authorization: Bearer {key}' '{base}/api/v1/deliveries?status=BOUNCED'
""")
    services.waker.wake()  # process anything left pending by an earlier run
    services.webhook_waker.wake()  # and send webhooks still owed
    server = make_server(host, port, app, threaded=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--bind", default="0.0.0.0:8080", show_default=True)
@click.option("--workers", default=lambda: 2 * (os.cpu_count() or 1) + 1, type=int)
@click.pass_context
def serve(ctx: click.Context, bind: str, workers: int) -> None:
    """Serve the receivers and APIs with gunicorn (extra arguments go to gunicorn).

    Its settings come from tracker.gunicorn_config (gunicorn's own refusals in JSON, the
    request line limit); arguments given here override them, and a --config of your own
    replaces that module.
    """
    os.execvp(sys.executable, [sys.executable, "-m", "gunicorn", "tracker.wsgi:app",
                               "--config", "python:tracker.gunicorn_config", "--bind", bind,
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
    from tracker import repository

    services = _app().extensions["tracker"]
    with services.db.transaction() as session:
        if repository.account_by_name(session, name) is not None:
            raise click.ClickException(f"account {name!r} already exists")
        key = repository.create_api_key(session, repository.create_account(session, name),
                                        secret_key=services.config.secret_key)
    click.echo(f"account: {name}\napi key: {key}\n(store it now: only a hash is kept)")


@accounts.command("retention")
@click.argument("name")
@click.option("--raw-days", type=click.IntRange(min=1), help="keep raw events this many days (default: forever)")
@click.option("--delivery-days", type=click.IntRange(min=1), help="keep deliveries this many days (default: forever)")
def accounts_retention(name: str, raw_days: int | None, delivery_days: int | None) -> None:
    """Set how long an account's raw events and deliveries are kept (omit an option: forever)."""
    from tracker import repository

    with _app().extensions["tracker"].db.transaction() as session:
        account = repository.account_by_name(session, name)
        if account is None:
            raise click.ClickException(f"no account {name!r}")
        repository.set_retention(session, account, raw_days=raw_days, delivery_days=delivery_days)
    click.echo(f"{name}: raw events {raw_days or 'forever'} days, deliveries {delivery_days or 'forever'} days")


@main.group()
def keys() -> None:
    """API keys."""


@keys.command("create")
@click.option("--account", "account_name", required=True)
@click.option("--operator", is_flag=True, help="may also use the admin API (failed events, replay, discard)")
@click.option("--read-only", is_flag=True, help="may only read (GET) through every API style")
def keys_create(account_name: str, operator: bool, read_only: bool) -> None:
    """Create another API key for an account and print it (shown only this once)."""
    from tracker import repository

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


@keys.command("list")
@click.option("--account", "account_name", required=True)
def keys_list(account_name: str) -> None:
    """An account's keys: id, role, created, revoked (the secrets are not kept)."""
    from tracker import repository

    with _app().extensions["tracker"].db.session() as session:
        account = repository.account_by_name(session, account_name)
        if account is None:
            raise click.ClickException(f"no account {account_name!r}")
        for key in repository.keys_of(session, account):
            revoked = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "live"
            click.echo(f"{key.key_id}\t{key.role}\t{key.created_at:%Y-%m-%d %H:%M}\t{revoked}")


@keys.command("revoke")
@click.argument("key_id")
def keys_revoke(key_id: str) -> None:
    """Revoke a key by its id (the 16 hex characters after trk_): every API style refuses it at once."""
    from tracker import repository

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
    """Create a source and print its hook path."""
    from tracker import repository

    if provider == "ses" and not topic_arns:
        raise click.UsageError("give at least one --topic-arn (or '*' for any topic)")
    if provider != "ses" and topic_arns:
        raise click.UsageError("--topic-arn is for SES sources only")
    if provider in SECRETS and SECRETS[provider][1] and not secret:
        raise click.UsageError(f"{provider} sources need --secret: {SECRETS[provider][0]}")
    if provider in ("infobip", "postmark") and secret and ":" not in secret.strip(":"):
        raise click.UsageError(f"{provider} --secret is 'user:password'")
    app = _app()
    with app.extensions["tracker"].db.transaction() as session:
        account = repository.account_by_name(session, account_name)
        if account is None:
            raise click.ClickException(f"no account {account_name!r}")
        source = repository.create_source(session, account, provider, topic_arns, secret)
    path = "sns" if provider == "ses" else provider
    click.echo(f"/hooks/{path}/{source.token}")


main.add_command(sqs_poll, "sqs-poll")
main.add_command(events)
main.add_command(rebuild)
main.add_command(purge)
main.add_command(webhooks)
main.add_command(ses)


if __name__ == "__main__":
    main()
