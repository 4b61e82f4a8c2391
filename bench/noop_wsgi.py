"""The tracker's WSGI app plus the benchmark's baseline route, served by one gunicorn.

POST /bench/noop answers 204 and does nothing else: the cost of gunicorn, Flask routing
and loopback HTTP, measured under exactly the settings the real receiver runs with.
"""
from tracker import create_app

app = create_app()


@app.post("/bench/noop")
def noop():
    return "", 204
