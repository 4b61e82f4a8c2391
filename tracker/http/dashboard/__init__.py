"""The operators' dashboard at /dashboard: server-rendered pages over the same data and operations as the admin API."""
from __future__ import annotations

from flask import Flask

from tracker.http.dashboard import access, received
from tracker.http.dashboard.base import blueprint

# One module per page; importing one adds its routes to the blueprint (and its link to the menu).
from tracker.http.dashboard import deliveries, failed, overview, reputation, suppressions, webhooks  # noqa: E402,F401


def register(app: Flask) -> None:
    """Mount the dashboard at /dashboard with its session settings and the app's memory of closed hours."""
    access.configure(app)
    app.extensions["dashboard_received"] = received.ReceivedCounts()
    app.register_blueprint(blueprint)
