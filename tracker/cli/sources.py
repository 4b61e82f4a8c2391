"""`tracker sources ...`: where providers push events (create, list, show, rotate-secret)."""
from __future__ import annotations

import json

import click

from tracker.cli.context import account_named, cli_app, cli_services
from tracker.cli.output import emit, json_option
from tracker.providers.registry import NAMES as PROVIDERS
from tracker.providers.registry import SECRETS, SES
from tracker.providers.source_checks import secret_problem, topic_arn_problem


@click.group()
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
    app = cli_app()
    with app.extensions["tracker"].db.transaction() as session:
        account = account_named(session, account_name)
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

    with cli_services().db.session() as session:
        account_id = None
        if account_name is not None:
            account = account_named(session, account_name)
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

    with cli_services().db.session() as session:
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

    with cli_services().db.transaction() as session:
        source = repository.source_by_id(session, source_id)
        if source is None:
            raise click.ClickException(f"no source {source_id}")
        problem = secret_problem(source.provider, secret)
        if problem:
            raise click.UsageError(problem)
        repository.set_source_secret(session, source, secret)
    click.echo(f"source {source_id} ({source.provider}): secret replaced; hook {_hook(source)}")
