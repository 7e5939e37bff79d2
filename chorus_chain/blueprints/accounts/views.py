"""The account's own pages: profile, password, structures (switch, create, join)."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user

from chorus_chain.blueprints.accounts.forms import ContestForm
from chorus_chain.blueprints.accounts.forms import (
    JoinForm,
    PasswordChangeForm,
    ProfileForm,
    SearchForm,
    StructureForm,
)
from chorus_chain.extensions import db
from chorus_chain.models import Structure
from chorus_chain.operations import OperationError
from chorus_chain.operations import accounts as account_ops
from chorus_chain.operations import structures as structure_ops
from chorus_chain.security import mark_authenticated

bp = Blueprint("accounts", __name__, url_prefix="/compte")


@bp.before_request
@login_required
def require_login():
    pass


@bp.route("/", methods=["GET", "POST"])
def profile():
    form = ProfileForm(obj=current_user)
    password_form = PasswordChangeForm(prefix="pw")
    if form.validate_on_submit():
        account_ops.update_profile(current_user, form.first_name.data, form.last_name.data, form.phone.data,
                                   form.contact_email.data)
        flash("Vos informations sont enregistrées.", "success")
        return redirect(url_for("accounts.profile"))
    return render_template("accounts/profile.html", form=form, password_form=password_form), \
        422 if form.errors else 200


@bp.post("/mot-de-passe")
def change_password():
    form = ProfileForm(obj=current_user, formdata=None)
    password_form = PasswordChangeForm(prefix="pw")
    if password_form.validate_on_submit():
        try:
            account_ops.change_password(current_user, password_form.current_password.data,
                                        password_form.password.data)
        except OperationError as error:
            password_form.add_error(error)
        else:
            login_user(current_user._get_current_object())  # the session version changed: keep this session, drop the others
            mark_authenticated()
            flash("Votre mot de passe est changé. Vos autres sessions sont déconnectées.", "success")
            return redirect(url_for("accounts.profile"))
    return render_template("accounts/profile.html", form=form, password_form=password_form), 422


@bp.get("/structures")
def structures():
    return render_template("accounts/structures.html", memberships=structure_ops.memberships_of(current_user))


@bp.route("/structures/nouvelle", methods=["GET", "POST"])
def create_structure():
    form = StructureForm()
    if form.validate_on_submit():
        try:
            structure = structure_ops.create_structure(
                current_user, siret=form.siret.data, name=form.name.data, is_public=form.is_public.data,
                address_line=form.address_line.data, postal_code=form.postal_code.data, city=form.city.data,
                vat_number=form.vat_number.data, size_class=form.size_class.data)
        except OperationError as error:
            form.add_error(error)
        else:
            flash(f"La structure {structure.name} est créée. Vous en êtes le gestionnaire principal.", "success")
            return redirect(url_for("organisation.overview", siret=structure.siret))
    return render_template("accounts/create_structure.html", form=form), 422 if form.errors else 200


@bp.route("/structures/contester", methods=["GET", "POST"])
def contest():
    """Contest a structure registered for one's SIRET by someone else: to the operators' queue (issue 13)."""
    from chorus_chain.models.base import utcnow
    from chorus_chain.operations import contests

    form = ContestForm(siret=request.args.get("siret", ""))
    if form.validate_on_submit():
        try:
            contests.open_contest(current_user, form.siret.data, form.reason.data, now=utcnow())
        except OperationError as error:
            form.add_error(error)
        else:
            flash("Votre contestation est transmise au support de chorus-chain. Un opérateur vous contactera pour "
                  "vérifier les justificatifs de votre entreprise ; la décision vous sera envoyée par e-mail.",
                  "success")
            return redirect(url_for("accounts.structures"))
    return render_template("accounts/contest.html", form=form), 422 if form.errors else 200


@bp.get("/structures/recherche")
def search():
    form = SearchForm(request.args)
    results, searched = [], False
    if request.args.get("q") is not None and form.validate():
        searched = True
        try:
            results = structure_ops.search_structures(form.q.data)
        except OperationError as error:
            form.add_error(error)
    return render_template("accounts/search.html", form=form, results=results, searched=searched,
                           join_form=JoinForm())


@bp.post("/structures/<siret>/rattachement")
def request_join(siret):
    structure = db.session.scalar(db.select(Structure).where(Structure.siret == siret))
    if structure is None:
        abort(404)
    form = JoinForm()
    if not form.validate_on_submit():
        flash(" ".join(sum(form.errors.values(), [])), "error")
        return redirect(url_for("accounts.search"))
    try:
        structure_ops.request_rattachement(current_user, structure, form.message.data)
    except OperationError as error:
        flash(error.message, "error")
        return redirect(url_for("accounts.structures"))
    flash(f"Votre demande de rattachement à {structure.name} est envoyée à son gestionnaire principal.", "success")
    return redirect(url_for("accounts.structures"))
