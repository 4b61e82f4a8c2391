"""`tracker accounts ...`: accounts (tenants): create, list, retention, reputation thresholds."""
from __future__ import annotations

import dataclasses

import click

from tracker.cli.context import account_named, cli_services
from tracker.cli.keys import jwt_note
from tracker.cli.output import emit, json_option


@click.group()
def accounts() -> None:
    """Accounts (tenants)."""


@accounts.command("create")
@click.argument("name")
def accounts_create(name: str) -> None:
    """Create an account and print its first API key (shown only this once)."""
    from tracker.db import repository

    services = cli_services()
    with services.db.transaction() as session:
        if repository.account_by_name(session, name) is not None:
            raise click.ClickException(f"account {name!r} already exists")
        key = repository.create_api_key(session, repository.create_account(session, name),
                                        secret_key=services.config.secret_key)
    click.echo(f"account: {name}\napi key: {key}\n(store it now: only a hash is kept)")
    jwt_note()


@accounts.command("list")
@json_option
def accounts_list(as_json: bool) -> None:
    """Every account: its id, when it was made, its live keys and sources."""
    from tracker.db import repository

    with cli_services().db.session() as session:
        rows = [dataclasses.asdict(summary) for summary in repository.account_summaries(session)]
    emit(rows, ("id", "name", "created_at", "live_keys", "sources"), title="accounts", as_json=as_json)


@accounts.command("retention")
@click.argument("name")
@click.option("--raw-days", type=click.IntRange(min=1), help="keep raw events this many days (default: forever)")
@click.option("--delivery-days", type=click.IntRange(min=1), help="keep deliveries this many days (default: forever)")
def accounts_retention(name: str, raw_days: int | None, delivery_days: int | None) -> None:
    """Set how long an account's raw events and deliveries are kept (omit an option: forever)."""
    from tracker.db import repository

    with cli_services().db.transaction() as session:
        account = account_named(session, name)
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

    with cli_services().db.transaction() as session:
        account = account_named(session, name)
        current = SES_DEFAULTS if ses_defaults else repository.thresholds_of(session, account.id)
        thresholds = dataclasses.replace(current, **{k: v for k, v in given.items() if v is not None})
        problems = thresholds.problems()
        if problems:
            raise click.ClickException("; ".join(problems))
        repository.set_thresholds(session, account.id, thresholds)
    click.echo(f"{name}: bounce warning {thresholds.bounce_warning:.2%}, at risk {thresholds.bounce_at_risk:.2%}; "
               f"complaint warning {thresholds.complaint_warning:.2%}, at risk {thresholds.complaint_at_risk:.2%}; "
               f"min sent {thresholds.min_sent}")
