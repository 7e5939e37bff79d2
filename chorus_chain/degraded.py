"""Degraded but safe: what a request answers when a service below the application fails.

- The database unreachable (a restart, a network cut): a French 503 page, never Werkzeug's bare English 500 — and if
  even the page cannot be rendered (it reads the logged-in user from that same database), a plain French page.
- Every error page says only what is known about the user's action (`what_was_saved`): a request that reads saved
  nothing; a write that failed before its commit saved nothing; a write whose commit itself failed may or may not
  have been saved, and the page says so instead of « Rien n'a été enregistré ».
- Redis down: the rate limiter falls back to memory (config `RATELIMIT_IN_MEMORY_FALLBACK_ENABLED`), jobs wait in
  the outbox (jobs.queue), and /healthz says what is down.
"""
from __future__ import annotations

import logging

from flask import g, render_template
from markupsafe import escape
from sqlalchemy.exc import InterfaceError, OperationalError

log = logging.getLogger(__name__)

UNAVAILABLE_TITLE = "Service momentanément indisponible"
UNAVAILABLE = "La base de données de chorus-chain ne répond pas pour le moment."
RETRY_LATER = "Réessayez dans quelques minutes."
DATABASE_DOWN = (OperationalError, InterfaceError)  # a connection refused, lost or timed out


def mark_commit(state: str) -> None:
    """web._finish_transaction says where the request's commit stands: "started", then "done"."""
    g.commit_state = state


def what_was_saved(writes: bool) -> str:
    """The sentence about the user's action, from what the request knows of its commit."""
    state = g.get("commit_state")
    if not writes:
        return ""
    if state == "started":
        return ("Nous ne savons pas si votre action a été enregistrée : vérifiez-le (rechargez la page) avant de "
                "recommencer.")
    if state == "done":
        return "Votre action a bien été enregistrée ; seul l'affichage de la suite a échoué. Rechargez la page."
    return "Votre action n'a pas été enregistrée."


def internal_error_text(writes: bool) -> str:
    saved = what_was_saved(writes)
    return " ".join(part for part in ("Une erreur inattendue s'est produite.", saved,
                                      "Réessayez ; si l'erreur persiste, signalez-la au support.") if part)


def unavailable_text(writes: bool) -> str:
    return " ".join(part for part in (UNAVAILABLE, what_was_saved(writes), RETRY_LATER) if part)


def is_database_down(error: BaseException | None) -> bool:
    """A lost or refused database connection (not a bad statement: those are bugs or refused input)."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    if isinstance(error, (OperationalError, InterfaceError)):
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


def render_safely(template: str, *, code: int, title: str, text: str, htmx_request: bool, headers=None):
    """Render the error page or fragment; if that fails too (the database is what failed, and the page reads the
    user from it), a plain French page that needs nothing."""
    try:
        if htmx_request:
            return render_template("_message.html", category="error", text=text), code, headers or {}
        return render_template(template, code=code, title=title, text=text), code
    except Exception:
        log.warning("error page rendered without its layout", exc_info=True)
    if htmx_request:
        body = f'<div class="message message-error" role="alert">{escape(text)}</div>'
        return body, code, headers or {}
    body = (f'<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>{escape(title)} — chorus-chain'
            f'</title><meta name="viewport" content="width=device-width, initial-scale=1"></head><body>'
            f'<main><h1>{escape(title)}</h1><p>{escape(text)}</p><p><a href="/">Retour à l\'accueil</a></p></main>'
            f'</body></html>')
    return body, code, {"Content-Type": "text/html; charset=utf-8", "Retry-After": "60"} if code == 503 else {
        "Content-Type": "text/html; charset=utf-8"}
