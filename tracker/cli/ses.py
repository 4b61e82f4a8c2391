"""`tracker ses connect` wires Amazon SES to the tracker; `tracker ses doctor` says which link is broken."""
from __future__ import annotations

import contextlib
import functools
import json
import sys
from datetime import datetime, UTC
from collections.abc import Iterator

import click

# The tracker.adapters.ses_setup modules (boto3, the repository) are imported inside the commands, so
# that every other `tracker` command starts without loading them.


@click.group()
def ses() -> None:
    """Amazon SES: wire it to the tracker (connect) and check the wiring (doctor)."""


def _link_options(command):
    options = [
        click.option("--account", required=True, help="The tracker account whose events these are."),
        click.option("--region", help="AWS region of the SES identity or configuration set "
                                      "(default: boto3's, e.g. AWS_DEFAULT_REGION)."),
        click.option("--public-url", required=True, envvar="TRACKER_PUBLIC_URL",
                     help="The tracker's https:// address as AWS reaches it (env TRACKER_PUBLIC_URL)."),
        click.option("--configuration-set", help="Publish this configuration set's events (all ten types)."),
        click.option("--identity", help="Send this identity's (domain or address) Bounce, Complaint and "
                                        "Delivery notifications."),
        click.option("--topic-name", help="The SNS topic (default: tracker-<account>-ses)."),
        click.option("--endpoint-url", envvar="TRACKER_AWS_ENDPOINT_URL", default=None,
                     help="A local AWS endpoint (moto) instead of AWS (env TRACKER_AWS_ENDPOINT_URL)."),
    ]
    return functools.reduce(lambda wrapped, option: option(wrapped), reversed(options), command)


@ses.command()
@_link_options
@click.option("--create-configuration-set", is_flag=True, help="Create the configuration set if it does not exist.")
@click.option("--dry-run", is_flag=True, help="Print the plan and change nothing.")
@click.option("--wait", "wait_seconds", default=120, show_default=True, type=click.IntRange(min=0),
              help="Seconds to wait for the tracker to confirm a new subscription.")
def connect(account, region, public_url, configuration_set, identity, topic_name, endpoint_url,
            create_configuration_set, dry_run, wait_seconds) -> None:
    """Create or repair every link from SES to the tracker: topic, policy, source, subscription, SES.

    Idempotent: a second run changes nothing. Credentials come from boto3's usual chain.
    """
    from tracker.adapters.ses_setup.apply import Applier
    from tracker.adapters.ses_setup.confirmation import subscription_check, wait_for_confirmation
    from tracker.adapters.ses_setup.links import hook_url
    from tracker.adapters.ses_setup.plan import BROKEN, handshake_summary, make_plan
    from tracker.adapters.ses_setup.read import read_state

    with _session(account, region, public_url, configuration_set, identity, topic_name, endpoint_url,
                  create_configuration_set) as (request, clients, db):
        state = read_state(request, clients, db)
        plan = make_plan(request, state)
        _headline(request, state)
        if plan.blockers:
            raise click.ClickException("cannot connect: " + "; ".join(plan.blockers))
        if not plan.changes:
            click.echo("Nothing to change: every link is in place.")
            click.echo(f"SES hook: {hook_url(request.public_url, state.source.token)}")
            return
        click.echo(f"Plan ({len(plan.changes)} change{'s' if len(plan.changes) != 1 else ''}):")
        for change in plan.changes:
            click.echo(f"  - {change.describe()}")
        if dry_run:
            click.echo("Dry run: nothing was changed.")
            return
        applier = Applier(clients, db, request.account)
        started = datetime.now(UTC)
        for change in plan.changes:
            click.echo(f"  done: {applier.apply(change)}")
        if applier.subscription_arn:
            hook = hook_url(request.public_url, applier.token)
            click.echo(f"Waiting up to {wait_seconds} s for the tracker to confirm the subscription of {hook}...")
            check = subscription_check(clients.sns, db, applier.subscription_arn, applier.token,
                                       state.topic_arn, started)
            last = wait_for_confirmation(check, timeout=wait_seconds, on_progress=_progress_printer(hook))
            if last.confirmed:
                click.echo("  the subscription is confirmed")
            else:
                click.echo(f"  still pending after {wait_seconds} s: {handshake_summary(last.handshake, hook)}")
        # Read everything again: "in place" is what AWS and the tracker say now, not what was sent.
        state = read_state(request, clients, db)
        final = make_plan(request, state)
        if final.broken:
            _print_findings(final, only=BROKEN)
            raise click.ClickException("some links are still broken (above); `tracker ses doctor` with the same "
                                       "options checks them again")
        click.echo("Every link is in place.")
        click.echo(f"SES hook: {hook_url(request.public_url, state.source.token)}")


@ses.command()
@_link_options
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of lines.")
def doctor(account, region, public_url, configuration_set, identity, topic_name, endpoint_url, as_json) -> None:
    """Check each link from SES to the tracker; exit status 1 when one is broken."""
    from tracker.adapters.ses_setup.plan import make_plan, when
    from tracker.adapters.ses_setup.read import LOOKBACK, read_state

    with _session(account, region, public_url, configuration_set, identity, topic_name, endpoint_url,
                  False) as (request, clients, db):
        state = read_state(request, clients, db)
        plan = make_plan(request, state)
        if as_json:
            click.echo(json.dumps(_report(request, state, plan), indent=2))
        else:
            _headline(request, state)
            _print_findings(plan)
            click.echo(f"Last event of each type through this link (looking back {LOOKBACK.days} days):")
            for event_type in request.event_types:
                arrived = state.last_arrivals.get(event_type)
                click.echo(f"  {event_type:<18} {when(arrived) if arrived else 'none'}")
    if plan.broken:
        sys.exit(1)


@contextlib.contextmanager
def _session(account, region, public_url, configuration_set, identity, topic_name, endpoint_url,
             create_configuration_set) -> Iterator[tuple]:
    """The request, AWS clients and database of one command; AWS and setup errors become clean exits."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    from tracker.config import Config
    from tracker.db.engine import Database
    from tracker.adapters.ses_setup import clients as aws
    from tracker.adapters.ses_setup.links import Request, SetupError, default_topic_name

    db = None
    try:
        clients = aws.aws_clients(region, endpoint_url)
        request = Request(account=account, region=clients.region, public_url=public_url,
                          topic_name=topic_name or default_topic_name(account),
                          configuration_set=configuration_set, identity=identity,
                          create_configuration_set=create_configuration_set)
        db = Database(Config.from_env().database_url)
        yield request, clients, db
    except SetupError as error:
        raise click.ClickException(str(error)) from None
    except NoCredentialsError:
        raise click.ClickException("no AWS credentials: set them as boto3 finds them (environment, "
                                   "~/.aws profile, instance role)") from None
    except ClientError as error:
        details = error.response.get("Error", {})
        raise click.ClickException(f"AWS refused {error.operation_name}: {details.get('Code')}: "
                                   f"{details.get('Message')}") from None
    except BotoCoreError as error:
        raise click.ClickException(f"AWS: {error}") from None
    finally:
        if db is not None:
            db.dispose()


def _headline(request, state) -> None:
    click.echo(f"Account {request.account}: AWS account {state.aws_account}, {request.region}, "
               f"topic {state.topic_arn}")


def _print_findings(plan, only: str | None = None) -> None:
    from tracker.adapters.ses_setup.plan import BROKEN, NOTE, OK

    labels = {OK: "OK", BROKEN: "BROKEN", NOTE: "note"}
    for finding in plan.findings:
        if only and finding.status != only:
            continue
        line = f"{labels[finding.status]:<7} {finding.link}: {finding.detail}"
        if finding.status == BROKEN and finding.fix:
            line += f"\n        fix: {finding.fix}"
        click.echo(line)


def _progress_printer(hook: str):
    """After a few quiet seconds (a reachable tracker with a worker confirms within them), say what
    the wait is waiting for whenever that changes, and every 10 seconds how long it has waited."""
    from tracker.adapters.ses_setup.plan import handshake_summary

    said = {"summary": None, "at": -10.0}

    def progress(elapsed: float, check) -> None:
        if elapsed < 5:
            return
        summary = handshake_summary(check.handshake, hook)
        if summary != said["summary"] or elapsed - said["at"] >= 10:
            click.echo(f"  {elapsed:4.0f} s: SNS says pending; {summary}")
            said.update(summary=summary, at=elapsed)

    return progress


def _report(request, state, plan) -> dict:
    from tracker.adapters.ses_setup.links import hook_url

    return {
        "ok": not plan.broken,
        "account": request.account,
        "region": request.region,
        "aws_account": state.aws_account,
        "topic_arn": state.topic_arn,
        "hook_url": hook_url(request.public_url, state.source.token) if state.source else None,
        "links": [{"link": f.link, "status": f.status, "detail": f.detail, "fix": f.fix} for f in plan.findings],
        "last_events": {t: (state.last_arrivals[t].isoformat() if t in state.last_arrivals else None)
                        for t in request.event_types},
    }
