"""`tracker sqs-poll`: the long-lived process that pulls SES events from an SQS queue into the inbox."""
from __future__ import annotations

import click


@click.command("sqs-poll")
@click.option("--source", "token", required=True, envvar="TRACKER_SQS_SOURCE",
              help="Token of the SES source the queue's events belong to (its hook token).")
@click.option("--queue-url", required=True, envvar="TRACKER_SQS_QUEUE_URL", help="The SQS queue URL.")
@click.option("--endpoint-url", envvar="TRACKER_AWS_ENDPOINT_URL", default=None,
              help="A local SQS endpoint (moto, ElasticMQ) instead of AWS.")
@click.option("--once", is_flag=True, help="Receive one batch, handle it, and exit.")
@click.option("--wait-seconds", default=20, show_default=True, type=click.IntRange(0, 20),
              help="Long-poll wait per receive.")
def sqs_poll(token: str, queue_url: str, endpoint_url: str | None, once: bool, wait_seconds: int) -> None:
    """Poll an SQS queue subscribed to SES's SNS topic; store each event; delete it after the commit.

    Works with both subscription forms: the signed SNS envelope (verified as over HTTP) and
    raw message delivery (trusted because only the topic may send to the queue: keep the
    queue policy that way). While the database or SQS is unreachable (at start too) it
    waits and looks again every few seconds; a queue SQS says does not exist ends it.
    SIGTERM or Ctrl-C finish the batch in hand, then exit.
    """
    from botocore.exceptions import BotoCoreError, ClientError, NoRegionError

    from tracker import create_app
    from tracker.adapters import sqs_poller as sqs

    services = create_app().extensions["tracker"]
    try:
        client = sqs.sqs_client(endpoint_url, sqs.queue_region(queue_url))
    except NoRegionError:
        raise click.ClickException("no AWS region: set AWS_DEFAULT_REGION") from None
    # The source is looked up once the database answers: a poller started while it is away waits.
    poller = sqs.SqsPoller(services, None, queue_url, client, token=token, wait_seconds=wait_seconds)
    poller.stop_on_signals()
    try:
        poller.run(once=once)
    except (sqs.UnknownSource, sqs.NoSuchQueue) as wrong:
        raise click.ClickException(str(wrong)) from None
    except sqs.DatabaseAway as away:  # only with --once: the loop waits for it
        raise click.ClickException(f"database unavailable: {away}") from None
    except (BotoCoreError, ClientError) as error:  # only with --once: the loop retries them
        raise click.ClickException(f"SQS: {error}") from None


if __name__ == "__main__":
    sqs_poll()
