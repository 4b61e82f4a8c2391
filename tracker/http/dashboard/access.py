"""Signing in with an operator key, the signed session cookie, and CSRF tokens on every form.

The session is Flask's cookie, signed with TRACKER_SECRET_KEY (itsdangerous): it holds the
account, the key id (never the key), a random session id and when the operator signed in.
Every request checks that key is still a live operator key of the account, so revoking it
signs the operator out, and that the session was not signed out: a cookie is valid wherever
it is presented, so signing out records the session id (until the session would have expired)
and a copy of the cookie taken before opens nothing.
The cookie is HttpOnly, SameSite=Strict, scoped to /dashboard, and Secure when the request
came over HTTPS. Every POST carries the session's CSRF token in a form field, compared in
constant time; SameSite=Strict already keeps other sites' forms from sending the cookie, the
token covers browsers that do not honour it.
"""
from __future__ import annotations

import hmac
import secrets
import time
from datetime import datetime, timedelta, UTC
from urllib.parse import urlsplit

from flask import Flask, current_app, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

from tracker.db import repository
from tracker.db.models import utcnow
from tracker.http import credentials
from tracker.http.dashboard.base import blueprint, db, page

SESSION_HOURS = 12
_OPEN = {"dashboard.signin", "dashboard.static"}


class DashboardSessions(SecureCookieSessionInterface):
    """Flask's signed cookie, Secure exactly when the request itself is HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return request.is_secure

    def open_session(self, app: Flask, request) -> SecureCookieSession | None:
        # Flask opens a session for every request. Without a Cookie header (every API call and
        # provider event) the answer is Flask's own, an empty session, but Flask builds its
        # signing serializer first: about 35 us, 5% of a one-row native list request.
        if app.secret_key and "HTTP_COOKIE" not in request.environ:
            return self.session_class()
        return super().open_session(app, request)


def configure(app: Flask) -> None:
    """The app settings the dashboard's session needs (the APIs never use a session)."""
    app.secret_key = app.extensions["tracker"].config.secret_key
    app.session_interface = DashboardSessions()
    app.config.update(SESSION_COOKIE_NAME="tracker_dashboard", SESSION_COOKIE_PATH="/dashboard",
                      SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict")


def csrf_token() -> str:
    """The session's CSRF token (made on first use), for the hidden field of every form."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


blueprint.add_app_template_global(csrf_token)


@blueprint.before_request
def _guard():
    if not current_app.secret_key:
        return page("unconfigured.html", 503)
    if request.method == "POST" and not _csrf_ok():
        return page("refused.html", 400)
    if request.endpoint in _OPEN:
        return None
    account_id, key_id, sid = session.get("account_id"), session.get("key_id"), session.get("sid")
    fresh = time.time() - session.get("signed_in_at", 0) < SESSION_HOURS * 3600
    if account_id and key_id and sid and fresh:
        with db().session() as s:
            if repository.live_operator_key(s, key_id, account_id, sid):
                g.account_id, g.key_id = account_id, key_id
                g.account_name = repository.account_name(s, account_id)
                return None
    session.pop("account_id", None)
    back = request.full_path.rstrip("?") if request.method == "GET" else None
    return redirect(url_for("dashboard.signin", next=back))


def _csrf_ok() -> bool:
    sent, kept = request.form.get("csrf_token", ""), session.get("csrf", "")
    return bool(kept) and hmac.compare_digest(sent.encode(), kept.encode())


@blueprint.route("/signin", methods=["GET", "POST"])
def signin():
    """The sign-in form; an operator key of a live account signs in (a fresh session), any other key does not."""
    error = None
    if request.method == "POST":
        caller = credentials.caller_from_api_key(request.form.get("key", ""))
        if caller is not None and caller.is_operator:
            session.clear()  # a fresh session (and CSRF token) for the signed-in operator
            session.update(account_id=caller.account_id, key_id=caller.key_id, signed_in_at=time.time(),
                           sid=secrets.token_urlsafe(24), csrf=secrets.token_urlsafe(32))
            return redirect(_local(request.form.get("next")) or url_for("dashboard.overview"))
        error = ("this key is not an operator key (tracker keys create --account NAME --operator)"
                 if caller is not None else "unknown or revoked key")
    return page("signin.html", 401 if error else 200, error=error, next=request.values.get("next", ""))


@blueprint.post("/signout")
def signout():
    """End the session, for every copy of its cookie too (a POST with the CSRF token, so no other site can sign
    an operator out)."""
    expires = datetime.fromtimestamp(session["signed_in_at"], UTC) + timedelta(hours=SESSION_HOURS)
    with db().transaction() as s:
        repository.end_dashboard_session(s, session["sid"], expires, utcnow())
    session.clear()
    return redirect(url_for("dashboard.signin"))


def _local(target: str | None) -> str | None:
    """A dashboard path to go back to after signing in; anything else (another host) is dropped."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/dashboard/") or target.startswith("//"):
        return None
    return target
