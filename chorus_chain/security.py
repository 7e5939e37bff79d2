"""Recent-login checks for sensitive changes (bank details, rights, gestionnaire hand-over, password)."""
from __future__ import annotations

import time
from functools import wraps

from urllib.parse import urlsplit

from flask import current_app, flash, g, redirect, request, session, url_for

_KEY = "authenticated_at"


def mark_authenticated() -> None:
    session[_KEY] = int(time.time())


def login_is_recent() -> bool:
    at = session.get(_KEY)
    return at is not None and time.time() - at <= current_app.config["FRESH_LOGIN_SECONDS"]


def recent_login_required(view):
    """Send the user to confirm their password when their login is older than FRESH_LOGIN_SECONDS.

    A POST without a recent login changes nothing and is never replayed blindly: the user confirms the password,
    comes back to the page the form was on, and submits again knowingly.
    """

    @wraps(view)
    def wrapped(*args, **kwargs):
        if login_is_recent():
            return view(*args, **kwargs)
        if request.method == "GET":
            flash("Pour cette opération sensible, confirmez d'abord votre mot de passe.", "info")
            return redirect(url_for("auth.reauthenticate", next=request.full_path.rstrip("?")))
        g.rollback = True
        flash("Votre connexion date un peu : par sécurité, confirmez votre mot de passe puis recommencez. "
              "Rien n'a été enregistré.", "info")
        back = _same_site_path(request.referrer) or request.path
        return redirect(url_for("auth.reauthenticate", next=back), code=303)

    return wrapped


def _same_site_path(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    if parts.netloc and parts.netloc != request.host:
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")
