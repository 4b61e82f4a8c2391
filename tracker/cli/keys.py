"""`tracker keys ...`: an account's API keys (create, list, revoke)."""
from __future__ import annotations

import os

import click

from tracker.cli.context import account_named, cli_services
from tracker.cli.output import emit, json_option


@click.group()
def keys() -> None:
    """API keys."""


@keys.command("create")
@click.option("--account", "account_name", required=True)
@click.option("--operator", is_flag=True, help="may also use the admin API (failed events, replay, discard)")
@click.option("--read-only", is_flag=True, help="may only read (GET) through every API style")
def keys_create(account_name: str, operator: bool, read_only: bool) -> None:
    """Create another API key for an account and print it (shown only this once)."""
    from tracker.db import repository

    services = cli_services()
    with services.db.transaction() as session:
        account = account_named(session, account_name)
        if operator and read_only:
            raise click.UsageError("a key is either --operator or --read-only")
        role = "operator" if operator else "read-only" if read_only else "application"
        key = repository.create_api_key(session, account, role=role, secret_key=services.config.secret_key)
    click.echo(f"api key: {key}\n(store it now: only a hash is kept)")
    jwt_note()


def jwt_note() -> None:
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

    with cli_services().db.session() as session:
        account = account_named(session, account_name)
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

    with cli_services().db.transaction() as session:
        if not repository.revoke_key(session, key_id):
            raise click.ClickException(f"no live key {key_id}")
    click.echo(f"revoked {key_id}")
