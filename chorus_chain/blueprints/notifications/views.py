"""Notifications of the current account in the current structure: the bell (unread count, refreshed every minute
by HTMX, a plain link without JavaScript), the list (open one, mark read, mark all read) and the account's
preferences per kind (in the application, by e-mail).

Any member of the structure reads its own notifications: no domain right is needed (membership is checked by the
tenant blueprint); the operations touch the current account's rows only.
"""
from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user

from chorus_chain import layout_counts
from chorus_chain.blueprints.pieces.forms import ButtonForm, PreferencesForm
from chorus_chain.extensions import htmx
from chorus_chain.models.base import utcnow
from chorus_chain.operations import OperationError
from chorus_chain.operations import pieces as ops
from chorus_chain.tenancy import tenant_blueprint

bp = tenant_blueprint("notifications", __name__, url_prefix="/notifications")

PAGE_SIZE = 50


@bp.app_context_processor
def bell_helpers():
    """For the bell in the top bar of every tenant page (counted once per request, with the layout's other count:
    layout_counts; only where a structure is shown)."""
    return {"unread_notifications_count": layout_counts.unread_notifications, "unread_label": ops.unread_label}


def _actor():
    return current_user._get_current_object()


@bp.get("/")
def index():
    return render_template("notifications/index.html",
                           notifications=ops.recent_notifications(_actor(), g.structure, limit=PAGE_SIZE),
                           button=ButtonForm(formdata=None))


@bp.get("/cloche")
def bell():
    """The bell alone (HTMX polls it every 60 s); without HTMX, the list."""
    if not htmx:
        return redirect(url_for("notifications.index"))
    return render_template("notifications/_bell.html")


def _notification_id() -> int | None:
    try:
        return int(request.form.get("notification_id", ""))
    except ValueError:
        return None


@bp.post("/lues")
def mark_read():
    """Mark one notification read (`notification_id`), or all of them."""
    if not ButtonForm().validate_on_submit():
        abort(400)
    ident = _notification_id()
    count = ops.mark_read(_actor(), g.structure, now=utcnow(), notification_ids=None if ident is None else [ident])
    if ident is None:
        flash(f"{count} notification(s) marquée(s) comme lue(s)." if count else "Aucune notification non lue.",
              "success" if count else "info")
    return redirect(url_for("notifications.index"), 303)


@bp.post("/ouvrir")
def open_one():
    """Open a notification: it is marked read and its page (always a page of this application) is shown."""
    if not ButtonForm().validate_on_submit():
        abort(400)
    ident = _notification_id()
    found = next((n for n in ops.recent_notifications(_actor(), g.structure, limit=PAGE_SIZE) if n.id == ident),
                 None)
    if found is None:
        abort(404)
    ops.mark_read(_actor(), g.structure, now=utcnow(), notification_ids=[found.id])
    target = found.url if found.url.startswith(f"/s/{g.structure.siret}/") else url_for("notifications.index")
    return redirect(target, 303)


@bp.route("/preferences", methods=["GET", "POST"])
def preferences():
    rows = ops.preferences(_actor())
    form = PreferencesForm()
    status = 200
    if form.validate_on_submit():
        try:
            for kind, _label, _email, _in_app in rows:
                ops.set_preference(_actor(), kind, by_email=request.form.get(f"email-{kind}") == "on",
                                   in_app=request.form.get(f"app-{kind}") == "on")
        except OperationError as error:
            form.add_error(error)
            status = 422
        else:
            flash("Vos préférences de notification sont enregistrées.", "success")
            return redirect(url_for("notifications.preferences"), 303)
    elif request.method == "POST":
        status = 422
    return render_template("notifications/preferences.html", rows=rows, form=form), status
