"""Sign-up, activation, login, logout, forgotten password, re-authentication for sensitive changes."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from flask_login import confirm_login, current_user, login_required, login_user, logout_user

from chorus_chain.blueprints.auth.forms import (
    ForgotPasswordForm,
    LoginForm,
    ReauthenticateForm,
    ResetPasswordForm,
    SignUpForm,
)
from chorus_chain.extensions import limiter
from chorus_chain.web import commits
from chorus_chain.operations import OperationError
from chorus_chain.operations import accounts as ops
from chorus_chain.operations import sessions
from chorus_chain.models.base import utcnow
from chorus_chain.security import mark_authenticated

bp = Blueprint("auth", __name__)


def _login_limit():
    from flask import current_app

    return current_app.config["LOGIN_RATE_LIMIT"]


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths: never an open redirect. Without one, where a user lands (`landing`)."""
    # A backslash or a control character (CR/LF: a forged header) is never part of one of our paths.
    if (target and target.startswith("/") and not target.startswith("//") and target.isprintable()
            and "\\" not in target and not urlsplit(target).netloc):
        return target
    return landing(current_user)


def landing(account) -> str:
    """Where a logged-in user lands: the Synthèse of its structure when it belongs to exactly one (nothing to choose),
    otherwise the list of its structures."""
    from chorus_chain.operations import structures as structure_ops

    memberships = structure_ops.memberships_of(account) if account.is_authenticated else []
    approved = [structure for structure, row in memberships if row.status == "approved"]
    if len(approved) == 1 and len(memberships) == 1:
        return url_for("dashboard.synthese", siret=approved[0].siret)
    return url_for("accounts.structures")


@bp.route("/inscription", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def signup():
    form = SignUpForm()
    if form.validate_on_submit():
        try:
            ops.sign_up(form.email.data, form.password.data, form.first_name.data, form.last_name.data)
        except OperationError as error:
            form.add_error(error)
        else:
            return render_template("auth/check_mailbox.html", email=ops.normalise_email(form.email.data))
    return render_template("auth/signup.html", form=form), 422 if form.errors else 200


@bp.get("/activation/<token>")
@commits
def activate(token):
    """A GET link in an e-mail, yet it writes: committed like a form post."""
    try:
        ops.activate(token)
    except OperationError as error:
        return render_template("auth/activation_failed.html", message=error.message), 400
    flash("Votre compte est activé. Vous pouvez vous connecter.", "success")
    return redirect(url_for("auth.login"))




@bp.route("/connexion", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        account = ops.authenticate(form.email.data, form.password.data)
        if account is None:
            form.add_error("Adresse e-mail ou mot de passe incorrect.")
        elif not account.is_active:
            form.add_error("Votre compte n'est pas encore activé : ouvrez le lien reçu par e-mail. "
                           "Vous pouvez en recevoir un nouveau en choisissant « Mot de passe oublié ».")
        else:
            session.clear()  # a fresh session for a fresh login (no fixation)
            remember = bool(form.remember.data)
            sessions.open_session(account, remember=remember, now=utcnow())  # the record every request checks
            login_user(account, remember=remember, duration=sessions.lifetime(True))
            mark_authenticated()
            ops.record_login(account)
            return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form), 422 if form.errors else 200


@bp.post("/deconnexion")
def logout():
    if current_user.is_authenticated:  # the session record dies with it: a copied cookie is worth nothing now
        sessions.close_session(current_user._get_current_object(), utcnow())
    else:
        g.rollback = True  # nothing to close: an anonymous post commits nothing, hands no pending job over
    logout_user()
    session.clear()
    flash("Vous êtes déconnecté.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/mot-de-passe-oublie", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        ops.request_password_reset(form.email.data)
        return render_template("auth/check_mailbox.html", email=ops.normalise_email(form.email.data), reset=True)
    return render_template("auth/forgot_password.html", form=form), 422 if form.errors else 200


@bp.route("/mot-de-passe/<token>", methods=["GET", "POST"])
def reset_password(token):
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            ops.reset_password(token, form.password.data)
        except OperationError as error:
            form.add_error(error)
        else:
            logout_user()
            session.clear()
            flash("Votre mot de passe est changé. Connectez-vous avec le nouveau.", "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/reset_password.html", form=form), 422 if form.errors else 200


@bp.route("/confirmation", methods=["GET", "POST"])
@login_required
@limiter.limit(_login_limit, methods=["POST"])
def reauthenticate():
    """Confirm the password before a sensitive change (bank details, rights, hand-over)."""
    form = ReauthenticateForm()
    if form.validate_on_submit():
        if current_user.check_password(form.password.data):
            confirm_login()
            mark_authenticated()
            return redirect(_safe_next(request.args.get("next")))
        form.add_error("Mot de passe incorrect.", "password")
    return render_template("auth/reauthenticate.html", form=form), 422 if form.errors else 200
