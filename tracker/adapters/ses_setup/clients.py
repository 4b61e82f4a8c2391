"""The boto3 clients connect and doctor use, from boto3's usual credential chain, in one region."""
from __future__ import annotations

import dataclasses
from typing import Any

from tracker.adapters.ses_setup.links import SetupError


@dataclasses.dataclass(frozen=True)
class AwsClients:
    region: str
    sts: Any
    sns: Any
    ses: Any  # the classic API: identity notifications exist only there
    sesv2: Any  # configuration sets: only SESv2 knows the DeliveryDelay and Subscription event types


def aws_clients(region: str | None, endpoint_url: str | None = None) -> AwsClients:
    """Clients for ``region`` (else the chain's: AWS_DEFAULT_REGION, the profile).

    Credentials come from boto3's chain (environment, profile, instance role);
    ``endpoint_url`` (TRACKER_AWS_ENDPOINT_URL) points every client at a local AWS such as moto.
    """
    import boto3
    from botocore.config import Config as BotoConfig

    session = boto3.session.Session(region_name=region or None)
    if not session.region_name:
        raise SetupError("no AWS region: pass --region or set AWS_DEFAULT_REGION")
    config = BotoConfig(retries={"mode": "standard"}, connect_timeout=10, read_timeout=30)

    def client(service: str):
        return session.client(service, endpoint_url=endpoint_url or None, config=config)

    return AwsClients(session.region_name, client("sts"), client("sns"), client("ses"), client("sesv2"))
