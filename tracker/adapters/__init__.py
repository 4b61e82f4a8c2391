"""Adapters: the outside world's I/O.

Redis, the Celery broker, wake-ups, the SQS poller, SNS subscription confirmation and
certificates, metrics, AWS setup.
"""
