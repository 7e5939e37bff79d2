"""The request lifecycle: login, one commit per request, the outbox after commit, security headers, errors."""
from __future__ import annotations

import logging

from flask import Flask, current_app, g, render_template, request
from flask_login import current_user, user_unauthorized
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError

from chorus_chain import degraded, formatting, help_ui, input_guard, layout_nav, layout_urls, read_requests, row_urls
from chorus_chain.extensions import db, htmx, login_manager
from chorus_chain.models.base import utcnow

log = logging.getLogger(__name__)

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Connectez-vous pour accéder à cette page."
    login_manager.login_message_category = "info"
    login_manager.needs_refresh_message = "Pour cette opération sensible, confirmez votre mot de passe."
    login_manager.needs_refresh_message_category = "info"
    login_manager.refresh_view = "auth.reauthenticate"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(user_id: str):
        # The id names a server-side login session (operations.sessions): revoked at logout, expired when the
        # application says, void once the password changed (session version).
        from chorus_chain.operations import sessions

        siret = g.get("siret")  # a tenant page: set from its URL (tenancy) before any hook reads the user
        if siret and db.session.get_bind().dialect.name == "postgresql":
            from chorus_chain import tenancy

            return tenancy.account_with_membership(user_id, siret, utcnow())  # and its membership, one statement
        return sessions.account_for(user_id, utcnow())

    user_unauthorized.connect(_refused_before_the_view, app)

    input_guard.init_app(app)  # before the blueprints: their <int:...> rules take the bounded converter

    app.after_request(_finish_transaction)
    app.after_request(_security_headers)
    app.after_request(_unwritten_help_texts)
    app.teardown_request(_rollback_on_error)

    for code in (400, 403, 404, 405, 413, 429, 500):
        app.register_error_handler(code, _error_page)
    app.register_error_handler(CSRFError, _csrf_error)
    for out_of_range in (DataError, OverflowError):
        app.register_error_handler(out_of_range, _out_of_range)
    for unavailable in degraded.DATABASE_DOWN:
        app.register_error_handler(unavailable, _database_unavailable)

    formatting.register(app)
    row_urls.register(app)
    layout_urls.register(app)
    layout_nav.register(app)

    @app.context_processor
    def inject_user_context():
        return {"current_structure": g.get("structure"), "current_membership": g.get("membership"),
                "current_rights": g.get("rights", {})}


def commits(view):
    """Mark a GET view that writes (a link followed from an e-mail): its request commits like a form post."""
    view.commits = True
    return view


def _writes() -> bool:
    if request.method in WRITE_METHODS:
        return True
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, "commits", False))


def _refused_before_the_view(sender, **extra) -> None:
    """An anonymous request sent to the login page (flask-login's `unauthorized`, from `login_required`): its
    redirect is a refusal, not the redirect after a successful post. Nothing it did is committed, and it does not
    hand the outbox's pending jobs over (other users' e-mails and documents, run inline without Redis) — an anonymous
    POST to any /s/ address did both (issue 13)."""
    g.rollback = True


def _finish_transaction(response):
    """One commit per request, at the end, for a successful write; everything else is rolled back (or, when it wrote
    nothing, committed — the same for the data — so that the connection keeps its prepared statements:
    `read_requests`)."""
    if response.status_code < 400 and not g.get("rollback") and _writes():
        degraded.mark_commit("started")  # an error from here on may or may not have saved: the page says so
        db.session.commit()
        degraded.mark_commit("done")
        from chorus_chain.jobs.queue import dispatch_outbox

        dispatch_outbox()
    elif response.status_code < 400 and not g.get("rollback"):
        read_requests.end(db.session())
    else:
        db.session.rollback()
    return response


def _unwritten_help_texts(response):
    """The explanations of help badges that no part of the answer wrote (help_ui: a fragment writes its own inside
    itself, the layout the rest): appended, so that no badge of an HTML answer points at nothing."""
    rest = help_ui.help_texts()
    if rest and response.mimetype == "text/html" and not response.direct_passthrough and not response.is_streamed:
        response.set_data(response.get_data() + str(rest).encode())
    return response


def _rollback_on_error(exc):
    if exc is not None:
        db.session.rollback()


def _security_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    # One URL may answer a full page or an HTMX fragment: caches must keep them apart.
    headers.add("Vary", "HX-Request")
    try:
        private = current_user.is_authenticated
    except Exception:  # the database is down (the error page is being sent): assume the page is private
        private = True
    if private and request.endpoint != "static":
        # Whatever a view or send_file said ("no-cache" still lets a browser or proxy keep a copy on disk): a
        # page, a PDF, a ZIP or an export read under a session is never stored, so nothing of it outlives logout
        # on a shared computer.
        headers["Cache-Control"] = "no-store"
        headers.pop("Expires", None)
    return response


# An HTMX request that fails shows its message in the page's message zone, whatever element sent it.
HTMX_TO_MESSAGES = {"HX-Retarget": "#messages", "HX-Reswap": "innerHTML"}

ERROR_TEXTS = {
    400: ("Requête incorrecte", "La demande n'a pas pu être comprise."),
    403: ("Accès refusé", "Vos droits sur cette structure ne permettent pas cette action. "
                          "Demandez-les au gestionnaire principal."),
    404: ("Page introuvable", "Cette page n'existe pas, ou vous n'y avez pas accès."),
    405: ("Méthode non autorisée", "Cette action n'est pas possible ainsi."),
    413: ("Fichier trop volumineux", "Le total des fichiers envoyés dépasse la limite autorisée."),
    429: ("Trop de tentatives", "Trop de tentatives en peu de temps. Patientez une minute puis réessayez."),
    500: ("Erreur interne", "Une erreur inattendue s'est produite."),  # completed by degraded.internal_error_text
}


# Werkzeug answers 413 for two reasons: the whole request beyond MAX_CONTENT_LENGTH (the files), or one text field
# beyond MAX_FORM_MEMORY_SIZE (pasted text, a forged form). The second is not about files.
FORM_TOO_LARGE = ("Formulaire trop volumineux", "Un texte saisi dépasse très largement la taille autorisée. "
                                                "Raccourcissez-le puis recommencez : rien n'a été enregistré.")


def _files_too_large() -> bool:
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    return bool(limit and (request.content_length or 0) > limit)


def _error_page(error):
    code = getattr(error, "code", 500) or 500
    if request.path.startswith("/api/"):  # an unknown address or method under the API: problem+json, not a page
        from chorus_chain.api.core import http_error

        return http_error(error)
    if code == 500:
        log.exception("unhandled error", exc_info=getattr(error, "original_exception", error))
    original = getattr(error, "original_exception", None)
    if code == 500 and degraded.is_database_down(original):
        return _database_unavailable(original)
    # The failure may have left the transaction aborted (PostgreSQL refuses every statement until a rollback): the
    # page below reads the user and the structure, so it starts from a clean one. Nothing was to be kept anyway.
    try:
        db.session.rollback()
    except Exception:  # the connection is gone: render_safely copes
        pass
    title, text = ERROR_TEXTS.get(code, ERROR_TEXTS[500])
    if code == 500:
        text = degraded.internal_error_text(_writes())  # only what is known about the user's action
    text = getattr(error, "text", None) or text  # input_guard.HostileInput says what was wrong
    if code == 413 and not _files_too_large():
        title, text = FORM_TOO_LARGE
    return degraded.render_safely("error.html", code=code, title=title, text=text, htmx_request=bool(htmx),
                                  headers=HTMX_TO_MESSAGES)


def _database_unavailable(error):
    """The database did not answer: a French 503 saying what is known (degraded.py)."""
    log.error("database unavailable: %s", error)
    try:
        db.session.rollback()
    except Exception:  # the connection is gone; the pool replaces it at the next request
        pass
    if request.path.startswith("/api/"):  # the API answers problem+json
        from werkzeug.exceptions import ServiceUnavailable

        from chorus_chain.api.core import http_error

        return http_error(ServiceUnavailable())
    return degraded.render_safely("error.html", code=503, title=degraded.UNAVAILABLE_TITLE,
                                  text=degraded.unavailable_text(_writes()), htmx_request=bool(htmx),
                                  headers=HTMX_TO_MESSAGES)


def _out_of_range(error):
    """A value the database or the date arithmetic cannot hold (input_guard): the request's fault, a 400."""
    log.warning("value out of range: %s", error, exc_info=error)
    return _error_page(input_guard.HostileInput(input_guard.OUT_OF_RANGE_TEXT))


def _csrf_error(error):
    text = ("Votre page a expiré (jeton de sécurité absent ou périmé). Rechargez la page puis recommencez : "
            "rien n'a été enregistré.")
    if htmx:
        return render_template("_message.html", category="error", text=text), 400, HTMX_TO_MESSAGES
    return render_template("error.html", code=400, title="Page expirée", text=text), 400
