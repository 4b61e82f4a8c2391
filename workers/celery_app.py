"""The Celery entry point: `celery -A workers.celery_app worker` (or `tracker worker`)."""
from tracker import create_app
from workers.schedule import beat_schedule

flask_app = create_app()
celery_app = flask_app.extensions.get("celery")
if celery_app is None:
    raise RuntimeError("TRACKER_BROKER_URL is not set: a Celery worker needs a broker")
celery_app.conf.beat_schedule = beat_schedule(flask_app.extensions["tracker"].config)
