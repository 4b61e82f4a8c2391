"""Operator commands: `tracker events list|show|replay|discard`, `tracker rebuild`, `tracker purge`."""
from __future__ import annotations

import contextlib
import getpass
import json
from datetime import datetime, UTC

import click

from tracker.domain import inbox
from tracker.cli.context import account_named, cli_services
from tracker.cli.output import emit, json_option
from tracker.providers.common import bounded_json
from tracker.db.repository.operations import LISTABLE_STATES



def _account_id(services, name: str | None) -> int | None:
    if name is None:
        return None
    with services.db.session() as session:
        return account_named(session, name).id


class _Time(click.ParamType):
    name = "time"

    def convert(self, value, param, ctx):
        if isinstance(value, datetime):
            return value
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 time (e.g. 2026-11-22T10:00:00Z)", param, ctx)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


TIME = _Time()


def _filter_options(command):
    for option in reversed([
        click.option("--provider"),
        click.option("--account", "account_name", help="account name"),
        click.option("--since", type=TIME, help="received at or after (ISO 8601; UTC when no zone)"),
        click.option("--error-contains", help="case-insensitive text in the error"),
    ]):
        command = option(command)
    return command


def _where(services, *, state, provider, account_name, since, error_contains):
    from tracker.db.repository.operations import EventFilter

    return EventFilter(state=state, provider=provider, account_id=_account_id(services, account_name),
                       since=since, error_contains=error_contains)


@click.group()
def events() -> None:
    """Inspect, replay and discard inbox events."""


ALL = "all"


@events.command("list")
@click.option("--state", type=click.Choice((*LISTABLE_STATES, ALL)), default=inbox.FAILED, show_default=True,
              help="'replayed': replayed at least once, whatever its state now; 'all': every state")
@_filter_options
@click.option("--limit", default=50, show_default=True)
@click.option("--after", "after_id", default=0, help="show ids after this one (the next page)")
@json_option
def list_events(state, provider, account_name, since, error_contains, limit, after_id, as_json) -> None:
    """List inbox events as a table, or JSON (failed ones by default; pending ones with their age)."""
    from tracker.db import repository

    services = cli_services()
    where = _where(services, state=None if state == ALL else state, provider=provider, account_name=account_name,
                   since=since, error_contains=error_contains)
    if state == inbox.PENDING and not as_json:
        return _list_pending(services, where, limit, after_id)
    with services.db.session() as session:
        rows = repository.list_inbox_events(session, where, after_id=after_id, limit=limit)
    emit([{"id": row.id, "account_id": row.account_id, "provider": row.provider, "kind": row.kind,
           "received_at": row.received_at, "state": row.state, "attempts": row.attempts, "replays": row.replay_count,
           "failure": row.failure_kind, "error": row.error if as_json else (row.error or "")[:90]} for row in rows],
         ("id", "provider", "kind", "received_at", "state", "attempts", "replays", "failure", "error"),
         title=f"{state} events", as_json=as_json)
    if len(rows) == limit and not as_json:
        click.echo(f"more: tracker events list --state {state} --after {rows[-1].id}")


def _list_pending(services, where, limit: int, after_id: int) -> None:
    """Pending rows, oldest first, with how long each has waited: a stall shows as rows growing old."""
    from rich.console import Console
    from rich.table import Table

    from tracker.db import repository

    now = datetime.now(UTC)
    with services.db.session() as session:
        rows = repository.pending_events(session, where, after_id=after_id, limit=limit)
        waiting = repository.inbox_counts(session).get(inbox.PENDING, 0)
        oldest = repository.oldest_pending_received_at(session)
    title = f"pending events: {waiting}" + (f", the oldest waiting {_age(now - oldest)}" if oldest else "")
    table = Table("id", "account", "provider", "kind", "received", "age", "attempts", "next attempt", "failure",
                  "last error", title=title)
    for row in rows:
        next_attempt = f"{row.next_attempt_at:%H:%M:%S}" if row.next_attempt_at and row.next_attempt_at > now else ""
        table.add_row(str(row.id), str(row.account_id), row.provider, row.kind, f"{row.received_at:%Y-%m-%d %H:%M:%S}",
                      _age(now - row.received_at), str(row.attempts), next_attempt, row.failure_kind or "",
                      (row.error or "")[:90])
    Console().print(table)
    if len(rows) == limit:
        click.echo(f"more: tracker events list --state pending --after {rows[-1].id}")


def _age(delta) -> str:
    seconds = max(int(delta.total_seconds()), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


@events.command()
@click.argument("event_id", type=int)
def show(event_id: int) -> None:
    """One event: its raw payload, error, attempts and the deliveries it touched."""
    from rich.console import Console
    from rich.syntax import Syntax

    from tracker.db import repository

    services = cli_services()
    with services.db.session() as session:
        row = repository.inbox_event(session, event_id)
        if row is None:
            raise click.ClickException(f"no event {event_id}")
        touched = repository.deliveries_touched(session, event_id)
    console = Console()
    console.print(f"[bold]event {row.id}[/] {row.provider}/{row.kind} account {row.account_id} "
                  f"received {row.received_at:%Y-%m-%d %H:%M:%S} state [bold]{row.state}[/] attempts {row.attempts}")
    if row.request_id:
        console.print(f"request id {row.request_id}")
    if row.error:
        console.print(f"[red]error ({row.failure_kind})[/]: {row.error}")
        console.print(f"failed first {row.first_failed_at} last {row.last_failed_at}")
    if row.replay_count:
        console.print(f"replayed {row.replay_count} time(s), last {row.replayed_at}")
    if row.discarded_at:
        console.print(f"discarded {row.discarded_at} by {row.discarded_by}: {row.discard_reason}")
    console.print(Syntax(_pretty(row.body), "json", word_wrap=True))
    for delivery in touched:
        console.print(f"touched delivery {delivery.id}: {delivery.message_id} {delivery.recipient} {delivery.status}")


def _pretty(body: str) -> str:
    try:
        document = bounded_json.loads(body)
        if isinstance(document, dict) and isinstance(document.get("Message"), str):
            with contextlib.suppress(ValueError):  # SNS: show the SES message inside, decoded
                document = {**document, "Message": bounded_json.loads(document["Message"])}
        return json.dumps(document, indent=2, ensure_ascii=False)
    except ValueError:
        return body


@events.command()
@click.argument("event_ids", type=int, nargs=-1)
@click.option("--all-failed", is_flag=True, help="every failed event")
@click.option("--filter", "use_filter", is_flag=True, help="the failed events matching the filter options")
@_filter_options
@click.option("--restart", is_flag=True, help="start over instead of resuming an interrupted run")
def replay(event_ids, all_failed, use_filter, provider, account_name, since, error_contains, restart) -> None:
    """Replay failed events, with a progress bar and a summary; an interrupted run resumes."""
    from rich.progress import Progress

    from tracker.pipeline import operations

    if bool(event_ids) + all_failed + use_filter != 1:
        raise click.UsageError("give event ids, or --all-failed, or --filter with filter options")
    services = cli_services()
    with Progress() as bar:
        if event_ids:
            task = bar.add_task("replaying", total=len(event_ids))
            summary = operations.replay_ids(services, list(event_ids), progress=lambda n: bar.advance(task, n))
        else:
            where = _where(services, state=inbox.FAILED, provider=provider, account_name=account_name,
                           since=since, error_contains=error_contains)
            task = bar.add_task("replaying", total=operations.count_failed(services, where))
            summary = operations.replay_matching(services, where, restart=restart,
                                                 progress=lambda n: bar.advance(task, n))
    if summary.resumed:
        click.echo(f"resumed job {summary.job_id}")
    click.echo(f"replayed {summary.replayed}, now processed {summary.processed}, "
               f"still failing {summary.still_failing}")


@events.command()
@click.argument("event_ids", type=int, nargs=-1, required=True)
@click.option("--reason", required=True)
def discard(event_ids, reason) -> None:
    """Discard failed (or pending) events, recording why and who."""
    from tracker.pipeline import operations

    done = operations.discard(cli_services(), list(event_ids), reason=reason, by=f"cli:{getpass.getuser()}")
    skipped = sorted(set(event_ids) - set(done))
    click.echo(f"discarded {len(done)}" + (f"; not failed or pending, left alone: {skipped}" if skipped else ""))


@click.command()
@click.option("--account", "account_name")
@click.option("--since", type=TIME, help="only deliveries updated at or after this time")
@click.option("--restart", is_flag=True, help="start over instead of resuming an interrupted rebuild")
def rebuild(account_name, since, restart) -> None:
    """Recompute delivery statuses from the raw inbox (suppressions are left as they are).

    Until a rebuild finishes, the deliveries in its scope keep the status they had: new
    events join their history and count once the rebuild has recomputed them. Run the same
    command again to resume an interrupted rebuild.
    """
    from rich.progress import Progress

    from tracker.pipeline import operations

    services = cli_services()
    with Progress() as bar:
        task = None

        def stage(name: str, size: int) -> None:
            nonlocal task
            task = bar.add_task(name, total=size)

        try:
            summary = operations.rebuild(services, account_id=_account_id(services, account_name), since=since,
                                         restart=restart, progress=lambda n: bar.advance(task, n), stage=stage)
        except KeyboardInterrupt:
            bar.stop()
            raise click.ClickException("interrupted: run the same command again to resume; until the rebuild "
                                       "finishes, the statuses of the deliveries in its scope stay as they "
                                       "were") from None
    click.echo(("resumed " if summary.resumed else "") + f"rebuild job {summary.job_id}: {summary.rows} raw "
               f"events re-applied ({summary.applied} history events, {summary.unreadable} unreadable now); "
               f"{summary.deliveries} deliveries recomputed, {summary.changed} changed, {summary.removed} removed")


@click.command()
@click.option("--dry-run", is_flag=True, help="show what would go, delete nothing")
def purge(dry_run) -> None:
    """Apply each account's retention (unresolved failed events are never purged)."""
    from tracker.pipeline import operations

    summary = operations.purge(cli_services(), dry_run=dry_run)
    verb = "would purge" if dry_run else "purged"
    for name, count in summary.raw_events.items():
        click.echo(f"{name}: {verb} {count} raw events")
    for name, count in summary.deliveries.items():
        click.echo(f"{name}: {verb} {count} deliveries")
    for name, count in summary.webhook_events.items():
        click.echo(f"{name}: {verb} {count} delivered webhook events")
    click.echo(f"{verb} {summary.replay_tokens} expired one-time tokens")
