"""The beat schedule: the periodic sweep that covers wake-ups lost while the broker was away."""
from __future__ import annotations

from tracker.config import Config


def beat_schedule(config: Config) -> dict:
    return {
        "sweep-inbox": {
            "task": "workers.tasks.sweep_inbox",
            "schedule": config.sweep_interval,
            # A sweep that waited longer than its period is superseded by the next one.
            "options": {"expires": config.sweep_interval},
        },
        "send-webhooks": {
            # Retries come due on their own time; this picks them up (new events are sent at once).
            "task": "workers.tasks.send_webhooks",
            "schedule": 10.0,
            "options": {"expires": 10.0},
        },
        "evaluate-reputation": {
            # Batches evaluate the accounts they touch; this catches rates that move as
            # deliveries leave the window with nothing new arriving.
            "task": "workers.tasks.evaluate_reputation",
            "schedule": 300.0,
            "options": {"expires": 300.0},
        },
        "purge-expired": {
            "task": "workers.tasks.purge_expired",
            "schedule": 3600.0,
            "options": {"expires": 3600.0},
        },
    }
