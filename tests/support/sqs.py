"""A local SQS for tests: moto's server on loopback, dummy credentials, queue helpers. Never AWS."""
from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

from tests.support.processes import free_port

# Dummy credentials and no shared config files, so nothing can reach (or be billed by) AWS.
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
}


@contextlib.contextmanager
def moto_sqs() -> Iterator[str]:
    """Run moto's server on 127.0.0.1 and yield its endpoint URL."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def client(endpoint_url: str):
    import boto3

    return boto3.client("sqs", endpoint_url=endpoint_url, region_name=AWS_ENV["AWS_DEFAULT_REGION"],
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def create_queue(sqs, *, visibility_timeout: int = 30) -> str:
    """A fresh queue (its own name, so tests never share one); returns its URL."""
    return sqs.create_queue(QueueName=f"ses-events-{uuid.uuid4().hex[:12]}",
                            Attributes={"VisibilityTimeout": str(visibility_timeout)})["QueueUrl"]


def depth(sqs, queue_url: str) -> int:
    """Messages still in the queue, visible or in flight (received, not deleted)."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])
