"""The Celery entry point: `celery -A workers.celery_app worker` (or `tracker worker`)."""
from celery.signals import setup_logging, task_postrun, task_prerun, worker_ready

from tracker import create_app
from tracker.adapters import logs
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


@setup_logging.connect
def _tracker_logging(**_) -> None:
    """Celery keeps its hands off logging: create_app above set up the tracker's (TRACKER_LOG_FORMAT)."""
    config = flask_app.extensions["tracker"].config
    logs.setup(config.log_format, config.log_level)


# The running task's id is in every line it logs (a pool process or thread runs one task at a time).
_task_tokens: dict[str, object] = {}


@task_prerun.connect
def _task_started(task_id=None, **_) -> None:
    _task_tokens[task_id] = logs.task_id.set(task_id)


@task_postrun.connect
def _task_ended(task_id=None, **_) -> None:
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        logs.task_id.reset(token)
