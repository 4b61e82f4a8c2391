"""Test-only launcher: the real `tracker sqs-poll`, made to die (os._exit) at one chosen point.

    python tests/support/crashing_sqs_poller.py before-commit|before-delete -- <sqs-poll options>

before-commit: dies on the first inbox store, after the receive and before anything is committed.
before-delete: dies on the first DeleteMessageBatch, after the inbox commit.
The fault is patched in from here, so production code carries no fault-injection hooks.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path


def die(*_args, **_kwargs):
    sys.stderr.write("crashing_sqs_poller: dying now\n")
    sys.stderr.flush()
    os._exit(1)


def main() -> None:
    where, _, *options = sys.argv[1:]
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

    if where == "before-commit":
        from tracker.pipeline import intake

        intake.store = die
    elif where == "before-delete":
        from botocore.client import BaseClient

        make_api_call = BaseClient._make_api_call

        def _make_api_call(self, operation_name, api_params):
            if operation_name == "DeleteMessageBatch":
                die()
            return make_api_call(self, operation_name, api_params)

        BaseClient._make_api_call = _make_api_call
    else:
        raise SystemExit(f"unknown crash point {where!r}")

    from tracker.cli.sqs import sqs_poll

    sqs_poll.main(args=options, prog_name="tracker sqs-poll")


if __name__ == "__main__":
    main()
