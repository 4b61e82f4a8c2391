"""Settings of the minimal Django peer: one database, no middleware, persistent connections.

As lean as a Django project serving django-ses's SNS view gets, so the comparison favours
the peer: no middleware (a stock project has seven), connections kept open between requests
(CONN_MAX_AGE=None; Django's default opens one per request), one INSERT per event in autocommit.
"""
import os
from urllib.parse import urlsplit

_url = urlsplit(os.environ["BENCH_PEER_DATABASE_URL"])

SECRET_KEY = "bench-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "bench.peer_django.urls"
INSTALLED_APPS = ["django_ses"]
MIDDLEWARE: list[str] = []
USE_TZ = True
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": _url.path.lstrip("/"),
        "USER": _url.username or "postgres",
        "PASSWORD": _url.password or "",
        "HOST": _url.hostname or "127.0.0.1",
        "PORT": str(_url.port or 5432),
        "CONN_MAX_AGE": None,
        "OPTIONS": {"options": os.environ["BENCH_PEER_PG_OPTIONS"]} if os.environ.get("BENCH_PEER_PG_OPTIONS") else {},
    }
}
# The same topic check the tracker's source makes; signatures verified (django-ses's default).
AWS_SNS_EVENT_TRUSTED_TOPIC_ARNS = [os.environ["BENCH_PEER_TOPIC_ARN"]]
AWS_SES_VERIFY_EVENT_SIGNATURES = True
LOGGING_CONFIG = None
