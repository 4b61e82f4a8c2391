"""What the CLI's commands share: the settings and the app they work through."""
from __future__ import annotations

import dataclasses

import click

from tracker.config import Config


def cli_config() -> Config:
    """The environment's settings; without TRACKER_SECRET_KEY, the local one `tracker run` keeps
    (var/secret.key), so that keys made here can verify Elevate JWTs in the default setup."""
    from tracker.cli import demo

    config = Config.from_env()
    if config.secret_key is None:
        config = dataclasses.replace(config, secret_key=demo.local_secret_key())
    return config


def cli_app(**kwargs):
    """The app a command works through, built from cli_config() (``kwargs`` go to create_app)."""
    from tracker import create_app

    return create_app(cli_config(), **kwargs)


def cli_services():
    """The services (database, settings...) of cli_app(): what most commands work through."""
    return cli_app().extensions["tracker"]


def account_named(session, name: str):
    """The account called ``name``; a ClickException (exit 1, "no account ...") if there is none."""
    from tracker.db import repository

    account = repository.account_by_name(session, name)
    if account is None:
        raise click.ClickException(f"no account {name!r}")
    return account
