"""Recent-login checks for sensitive changes (bank details, rights, gestionnaire hand-over, password)."""
from __future__ import annotations

import time
from functools import wraps

from flask import current_app, flash, redirect, request, session, url_for

_KEY = "authenticated_at"


def mark_authenticated() -> None:
    session[_KEY] = int(time.time())


def login_is_recent() -> bool:
    at = session.get(_KEY)
    return at is not None and time.time() - at <= current_app.config["FRESH_LOGIN_SECONDS"]


def recent_login_required(view):
    """Send the user to confirm their password when their login is older than FRESH_LOGIN_SECONDS.

    A POST without a recent login is refused (403) rather than redirected: a form must not be replayed blindly.
    """

    @wraps(view)
    def wrapped(*args, **kwargs):
        if login_is_recent():
            return view(*args, **kwargs)
        if request.method != "GET":
            from flask import abort

            abort(403)
        flash("Pour cette opération sensible, confirmez d'abord votre mot de passe.", "info")
        return redirect(url_for("auth.reauthenticate", next=request.full_path.rstrip("?")))

    return wrapped
