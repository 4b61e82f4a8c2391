"""The `tracker` command: run the embedded tracker, serve, work, migrate, manage accounts and sources."""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import socket
import sys

import click

from tracker.cli.accounts import accounts
from tracker.cli.context import cli_app, cli_config
from tracker.cli.events import events, purge, rebuild
from tracker.cli.keys import keys
from tracker.cli.ses import ses
from tracker.cli.sources import sources
from tracker.cli.sqs import sqs_poll
from tracker.cli.webhooks import webhooks
from tracker.config import Config


class _Commands(click.Group):
    """The `tracker` group: a database away ends any command with one line saying so (click's "Error: ..."),
    not SQLAlchemy's traceback (TRACKER_LOG_LEVEL=DEBUG logs it)."""

    def invoke(self, ctx: click.Context):
        from sqlalchemy.exc import InterfaceError, OperationalError

        try:
            return super().invoke(ctx)
        except (OperationalError, InterfaceError) as error:
            logging.getLogger(__name__).debug("database error", exc_info=True)
            said = (str(error.orig).strip().splitlines() or [type(error.orig).__name__])[0]
            raise click.ClickException(f"database unavailable: {said}. Run the command again once it answers "
                                       "(replays and rebuilds resume where they stopped).") from None


@click.group(cls=_Commands)
def main() -> None:
    """Email delivery status tracker."""
    from tracker.adapters import logs

    try:
        config = Config.from_env()
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    logs.setup(config.log_format, config.log_level)


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
    config = dataclasses.replace(cli_config(), broker_url=None, webhook_allow_http=True)
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
    _upgrade(cli_app())
    click.echo("database is at the latest revision")


main.add_command(accounts)
main.add_command(keys)
main.add_command(sources)
main.add_command(sqs_poll, "sqs-poll")
main.add_command(events)
main.add_command(rebuild)
main.add_command(purge)
main.add_command(webhooks)
main.add_command(ses)


if __name__ == "__main__":
    main()
