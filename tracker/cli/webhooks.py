"""`tracker webhooks ...`: the CLI twin of /api/v1/webhooks (create, list, update, rotate-secret, delete,
test, events), plus replaying parked events."""
from __future__ import annotations

import click

from tracker.cli.context import account_named, cli_services
from tracker.cli.output import emit, json_option
from tracker.domain import Status
from tracker.outbound import signing



def _subscription(session, subscription_id: int):
    from tracker.db import repository

    subscription = repository.subscription_of(session, None, subscription_id)
    if subscription is None:
        raise click.ClickException(f"no webhook subscription {subscription_id}")
    return subscription


def _check(services, url: str) -> None:
    from tracker.outbound import destinations

    try:
        destinations.resolve(url, services.webhook_settings.policy)
    except destinations.DestinationRefused as refused:
        raise click.ClickException(f"url refused: {refused}") from None


STATUS = click.Choice([s.value for s in Status])


@click.group()
def webhooks() -> None:
    """Outbound webhook subscriptions."""


@webhooks.command("create")
@click.option("--account", "account_name", required=True)
@click.option("--url", required=True)
@click.option("--status", "statuses", multiple=True, type=STATUS, help="only these statuses (repeatable)")
def create(account_name, url, statuses) -> None:
    """Subscribe a URL; prints the signing secret once."""
    from tracker.db import repository

    services = cli_services()
    _check(services, url)
    secret = signing.new_secret()
    with services.db.transaction() as session:
        subscription = repository.create_subscription(session, account_id=account_named(session, account_name).id,
                                                      url=url, secret=secret, statuses=statuses)
        click.echo(f"subscription {subscription.id}\nsecret: {secret}\n(store it now: it signs every request)")


@webhooks.command("list")
@click.option("--account", "account_name", required=True)
@json_option
def list_all(account_name, as_json) -> None:
    """An account's subscriptions: a table, or with --json the fields /api/v1/webhooks shows (never the secret)."""
    from tracker.db import repository

    services = cli_services()
    with services.db.session() as session:
        rows = [_subscription_row(s, as_json) for s in repository.list_subscriptions(
            session, account_named(session, account_name).id)]
    emit(rows, ("id", "url", "statuses", "state", "failing_since", "created_at"),
         title=f"webhook subscriptions of {account_name}", as_json=as_json)


def _subscription_row(subscription, as_json: bool) -> dict:
    """A subscription as /api/v1/webhooks names its fields, plus its state in words."""
    reason = subscription.disabled_reason
    state = "active" if subscription.active else f"disabled ({reason})" if reason else "disabled"
    # No statuses means every status: JSON keeps the API's empty list, a table says so.
    statuses = list(subscription.statuses) if as_json else list(subscription.statuses) or "all statuses"
    return {"id": subscription.id, "url": subscription.url, "statuses": statuses, "active": subscription.active,
            "state": state, "disabled_reason": subscription.disabled_reason, "disabled_at": subscription.disabled_at,
            "failing_since": subscription.failing_since,
            "previous_secret_expires_at": subscription.previous_secret_expires_at,
            "created_at": subscription.created_at, "updated_at": subscription.updated_at}


@webhooks.command("update")
@click.argument("subscription_id", type=int)
@click.option("--url")
@click.option("--status", "statuses", multiple=True, type=STATUS, help="only these statuses (repeatable)")
@click.option("--all-statuses", is_flag=True, help="every status again")
@click.option("--enable/--disable", default=None, help="--enable also clears an automatic disabling")
def update(subscription_id, url, statuses, all_statuses, enable) -> None:
    """Change a subscription's URL, statuses or active flag."""
    from tracker.db.models import utcnow

    if statuses and all_statuses:
        raise click.UsageError("give --status or --all-statuses, not both")
    services = cli_services()
    if url:
        _check(services, url)
    with services.db.transaction() as session:
        subscription = _subscription(session, subscription_id)
        if url:
            subscription.url = url
        if statuses or all_statuses:
            subscription.statuses = list(statuses)
        if enable is not None:
            subscription.active = enable
            if enable:
                subscription.disabled_reason = subscription.disabled_at = subscription.failing_since = None
        subscription.updated_at = utcnow()
    click.echo(f"subscription {subscription_id} updated")


@webhooks.command("events")
@click.argument("subscription_id", type=int)
@click.option("--state", type=click.Choice(["pending", "sending", "delivered", "parked"]))
@click.option("--attempts", "with_attempts", is_flag=True, help="also every attempt: time, status, latency, error")
@click.option("--limit", default=50, show_default=True)
@click.option("--after", "after_id", default=0, help="show ids after this one (the next page)")
def events(subscription_id, state, with_attempts, limit, after_id) -> None:
    """The subscription's delivery log, oldest first (parked ones are what `replay` sends again)."""
    from tracker.db import repository

    services = cli_services()
    with services.db.session() as session:
        _subscription(session, subscription_id)
        rows = repository.webhook_events_of(session, subscription_id, state=state, after_id=after_id, limit=limit)
        attempts = repository.webhook_attempts(session, [row.id for row in rows]) if with_attempts else {}
        for row in rows:
            last = f"HTTP {row.last_status}" if row.last_status else "no answer" if row.attempts else "not sent yet"
            error = f" ({row.last_error})" if row.last_error else ""
            click.echo(f"{row.id}\t{row.type}\tdelivery {row.delivery_id}\tsequence {row.sequence}\t{row.state}"
                       f"\t{row.attempts} attempt(s), last: {last}{error}")
            if with_attempts:
                for attempt in attempts.get(row.id, []):
                    click.echo(f"\t{attempt.attempted_at:%Y-%m-%d %H:%M:%S} status {attempt.status_code} "
                               f"{attempt.latency_ms or 0:.0f} ms" + (f" {attempt.error}" if attempt.error else ""))
    if len(rows) == limit:
        click.echo(f"more: tracker webhooks events {subscription_id} --after {rows[-1].id}")


@webhooks.command("rotate-secret")
@click.argument("subscription_id", type=int)
@click.option("--previous-secret-hours", type=click.IntRange(0, signing.MAX_PREVIOUS_SECRET_HOURS),
              default=signing.PREVIOUS_SECRET_HOURS, show_default=True,
              help="how long the replaced secret also signs (0: it stops at once)")
def rotate_secret(subscription_id, previous_secret_hours) -> None:
    """A new signing secret, printed once; the replaced one also signs for a while, so receivers switch at leisure."""
    from datetime import timedelta

    from tracker.db import repository
    from tracker.db.models import utcnow

    secret, now = signing.new_secret(), utcnow()
    until = now + timedelta(hours=previous_secret_hours) if previous_secret_hours else None
    with cli_services().db.transaction() as session:
        repository.rotate_subscription_secret(_subscription(session, subscription_id), secret, until, now)
    click.echo(f"subscription {subscription_id}\nsecret: {secret}\n(store it now: it signs every request)")
    click.echo(f"the previous secret also signs until {until.isoformat()}" if until else
               "the previous secret no longer signs")


@webhooks.command("delete")
@click.argument("subscription_id", type=int)
def delete(subscription_id) -> None:
    from tracker.db import repository

    services = cli_services()
    with services.db.transaction() as session:
        repository.delete_subscription(session, _subscription(session, subscription_id))
    click.echo(f"subscription {subscription_id} deleted")


@webhooks.command("test")
@click.argument("subscription_id", type=int)
def test(subscription_id) -> None:
    """Queue a webhook.test event for the subscription."""
    from tracker.db.models import utcnow
    from tracker.outbound import outbox

    services = cli_services()
    with services.db.transaction() as session:
        try:
            outbox.enqueue_test(session, _subscription(session, subscription_id), utcnow())
        except outbox.SubscriptionDisabled as disabled:
            raise click.ClickException(f"{disabled} (tracker webhooks update {subscription_id} --enable)") from None
    click.echo("test event queued")


@webhooks.command("replay")
@click.option("--subscription", "subscription_id", type=int, help="only this subscription's parked events")
@click.argument("event_ids", type=int, nargs=-1)
def replay(subscription_id, event_ids) -> None:
    """Send parked events again with a fresh retry window (all parked events when no id is given)."""
    from tracker.db import repository

    services = cli_services()
    with services.db.transaction() as session:
        replayed = repository.replay_parked(session, subscription_id=subscription_id, ids=list(event_ids) or None)
    click.echo(f"replayed {len(replayed)} parked webhook events")
