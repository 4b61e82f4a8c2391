"""The dashboard's blueprint and what every page shares: the signed-in operator, CSRF, formatting."""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response, current_app, render_template
from werkzeug.http import HTTP_STATUS_CODES

from tracker.http.errors import ApiError

from tracker.db.models import utcnow
from tracker.services import services

blueprint = Blueprint("dashboard", __name__, url_prefix="/dashboard", template_folder="templates",
                      static_folder="static")


def db():
    """The app's database (sessions for the page's reads)."""
    return services().db


def page(template: str, status: int = 200, **context):
    """Render a page of the dashboard."""
    return current_app.make_response((render_template(f"dashboard/{template}", **context), status))


# The paths whose refusals render_error answers (tracker.http.errors picks a style by path).
PATHS = ("/dashboard",)


def render_error(error: ApiError) -> Response:
    """Whatever refuses a dashboard request (the database away, a page it does not have) as a page of
    the dashboard, with the refusal's status and headers (a 503's Retry-After): the APIs' JSON shown raw
    in an operator's browser said less."""
    title = HTTP_STATUS_CODES.get(error.status, "Error")
    response = page("error.html", error.status, title=title, detail=error.detail or title)
    response.headers.update(error.headers)
    return response


# Only this tracker's own stylesheet and forms: no script, nothing from elsewhere, no framing.
POLICY = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
          "base-uri 'none'")


@blueprint.after_request
def _headers(response):
    response.headers["Content-Security-Policy"] = POLICY
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if response.mimetype == "text/html":  # each page shows the account's data as it is now
        response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.app_template_filter("ago")
def ago(moment: datetime | None) -> str:
    """How long ago, in the largest unit that says it (never negative: a clock a little ahead is 'now')."""
    if moment is None:
        return "-"
    seconds = max(int((utcnow() - moment).total_seconds()), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


@blueprint.app_template_filter("when")
def when(moment: datetime | None) -> str:
    """A moment as the pages show it: to the second, in UTC."""
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S UTC")


MENU = (("dashboard.overview", "Overview"), ("dashboard.reputation_page", "Reputation"),
        ("dashboard.deliveries", "Deliveries"), ("dashboard.failed", "Failed events"),
        ("dashboard.suppressions", "Suppressions"), ("dashboard.webhooks", "Webhooks"))


@blueprint.context_processor
def _menu() -> dict:
    """The pages this tracker has (a page module not installed has no link)."""
    return {"menu": [(endpoint, label) for endpoint, label in MENU if endpoint in current_app.view_functions]}
