"""The tracker's WSGI app plus the benchmark's reference routes, served by one gunicorn.

POST /bench/noop answers 204 and does nothing else: the cost of gunicorn, Flask routing
and loopback HTTP under exactly the settings the real receiver runs with (the baseline).
POST /bench/verify reads, decodes and signature-checks the body like the receiver, then
answers 204 without storing: the step between the baseline and the real receiver.
"""
from flask import request

from tracker import create_app
from tracker.providers.ses.auth import verify
from tracker.providers.ses.envelope import decode_envelope

app = create_app()


@app.post("/bench/noop")
def noop():
    return "", 204


@app.post("/bench/verify")
def verify_only():
    envelope = decode_envelope(request.get_data(cache=False).decode("utf-8"))
    verify(envelope.fields, app.extensions["tracker"].certificates)
    return "", 204

