"""WSGI entry of the Django peer: fills django-ses's certificate cache and connects the bounce receiver.

django-ses fetches a signing certificate over HTTPS on first sight and keeps it in
``django_ses.utils._CERT_CACHE`` (URL -> parsed certificate); the benchmark signs with a
local PKI, so the cache is filled from that PEM here and the peer makes no network call.
"""
import os

from cryptography import x509

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.peer_django.settings")

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()

from django.db import connection  # noqa: E402
from django_ses import signals, utils  # noqa: E402

with open(os.environ["BENCH_PEER_CERT_PEM"], "rb") as pem:
    utils._CERT_CACHE[os.environ["BENCH_PEER_CERT_URL"]] = x509.load_pem_x509_certificate(pem.read())

INSERT = "INSERT INTO peer_bounces (message_id, bounce_type, raw_message) VALUES (%s, %s, %s)"


def store_bounce(sender, mail_obj, bounce_obj, raw_message, **_kwargs):
    """One INSERT per event, committed at once (Django's autocommit)."""
    with connection.cursor() as cursor:
        cursor.execute(INSERT, [mail_obj["messageId"], bounce_obj.get("bounceType"), raw_message.decode("utf-8")])


signals.bounce_received.connect(store_bounce, weak=False)
