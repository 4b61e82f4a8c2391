"""The Celery entry point: `celery -A workers.celery_app worker` (or `tracker worker`)."""
from celery.signals import worker_ready

from tracker import create_app
from tracker.adapters.wakeup import PROCESS_TASK
from workers.schedule import beat_schedule

flask_app = create_app()
celery_app = flask_app.extensions.get("celery")
if celery_app is None:
    raise RuntimeError("TRACKER_BROKER_URL is not set: a Celery worker needs a broker")
celery_app.conf.beat_schedule = beat_schedule(flask_app.extensions["tracker"].config)


@worker_ready.connect
def _look_at_the_inbox(sender, **_) -> None:
    """A worker that starts looks at the inbox at once: it may be replacing one that died mid-drain.

    The dead worker's wake-up flag may still be held for a few seconds, so this does not go
    through it; an extra drain finds nothing and ends (SKIP LOCKED keeps drains apart).
    """
    sender.app.send_task(PROCESS_TASK)
