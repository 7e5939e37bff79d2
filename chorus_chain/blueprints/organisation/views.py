"""The structure's own administration: overview, members and approvals, rights, services, settings, bank details.

Each view loads and authorises (the tenant, the right, the row through one `_..._or_404` helper per kind of row),
calls one operation and renders. A form shown again with errors answers 422, so the request rolls back.
Decorator order matters: `require_right` outside `recent_login_required`, so a member without the right gets 403
before being asked for their password.
"""
from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from chorus_chain.blueprints.organisation.forms import (
    ActionForm,
    BankAccountEditForm,
    BankAccountForm,
    HandOverForm,
    NewServiceForm,
    RefuseForm,
    RightsForm,
    ServiceForm,
    ServiceMemberForm,
    SettingsForm,
    person_choices,
)
from chorus_chain import layout_counts
from chorus_chain.domain import legal_identity
from chorus_chain.domain import rights as rights_rules
from chorus_chain.extensions import db, htmx
from chorus_chain.models import BankAccount, Rattachement, Service, ServiceMember
from chorus_chain.operations import OperationError
from chorus_chain.operations import organisation as ops
from chorus_chain.security import recent_login_required
from chorus_chain.tenancy import has_right, require_gestionnaire, require_right, tenant_blueprint

bp = tenant_blueprint("organisation", __name__)

CONSULT = ("organisation", "consultation")
MODIFY = ("organisation", "modification")


@bp.app_context_processor
def tenant_helpers():
    """For the tenant navigation, shown on every blueprint's pages."""
    return {"has_right": _template_has_right, "pending_approvals_count": layout_counts.pending_approvals}


@bp.context_processor
def organisation_helpers():
    return {"describe_event": ops.describe_event, "routing_labels": ops.ROUTING_LABELS,
            "size_labels": ops.SIZE_LABELS, "level_labels": rights_rules.LEVEL_LABELS,
            "domain_labels": rights_rules.DOMAIN_LABELS}


def _template_has_right(domain: str, level: str) -> bool:
    return g.get("structure") is not None and has_right(domain, level)


# --- Loading rows of the current structure (404 for any other structure's row) --------------------------------------

def _member_or_404(member_id: int) -> Rattachement:
    return _one_or_404(select(Rattachement).options(joinedload(Rattachement.account))
                       .where(Rattachement.id == member_id, Rattachement.structure_id == g.structure.id,
                              Rattachement.status == "approved"))


def _request_or_404(rattachement_id: int) -> Rattachement:
    # Any status: a request already decided (a double click, a colleague faster) gets a sentence, not a 404.
    return _one_or_404(select(Rattachement).options(joinedload(Rattachement.account))
                       .where(Rattachement.id == rattachement_id, Rattachement.structure_id == g.structure.id,
                              Rattachement.status != "detached"))


def _service_or_404(service_id: int) -> Service:
    return _one_or_404(select(Service).where(Service.id == service_id, Service.structure_id == g.structure.id))


def _service_member_or_404(service: Service, account_id: int) -> ServiceMember:
    return _one_or_404(select(ServiceMember).where(ServiceMember.service_id == service.id,
                                                   ServiceMember.account_id == account_id))


def _bank_account_or_404(bank_account_id: int) -> BankAccount:
    return _one_or_404(select(BankAccount).where(BankAccount.id == bank_account_id,
                                                 BankAccount.structure_id == g.structure.id))


def _one_or_404(statement):
    row = db.session.scalar(statement)
    if row is None:
        abort(404)
    return row


def _actor():
    return current_user._get_current_object()


def _inline() -> bool:
    """An HTMX request that wants a fragment (a boosted link or form wants the whole page)."""
    return bool(htmx) and not htmx.boosted


# --- Overview and journal ------------------------------------------------------------------------------------------

@bp.get("/")
def overview():
    structure = g.structure
    admin = has_right(*CONSULT)
    return render_template("organisation/overview.html", structure=structure,
                           counts=ops.overview_counts(structure) if admin else None,
                           recent=ops.events(structure, per_page=5)[0] if admin else [])


@bp.get("/journal")
@require_right(*CONSULT)
def journal():
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    events, has_next = ops.events(g.structure, page)
    return render_template("organisation/journal.html", events=events, page=page, has_next=has_next)


# --- Members and their rights --------------------------------------------------------------------------------------

@bp.get("/utilisateurs")
@require_right(*CONSULT)
def members():
    return render_template("organisation/members.html", members=ops.approved_members(g.structure))


@bp.get("/utilisateurs/<int:member_id>/droits")
@require_right(*MODIFY)
@recent_login_required
def member_rights(member_id):
    member = _member_or_404(member_id)
    return render_template("organisation/rights.html", member=member, form=RightsForm().fill(member.rights()))


@bp.post("/utilisateurs/<int:member_id>/droits")
@require_right(*MODIFY)
@recent_login_required
def member_rights_save(member_id):
    member = _member_or_404(member_id)
    form = RightsForm()
    if form.validate_on_submit():
        try:
            changed = ops.change_rights(g.structure, _actor(), member, form.rights())
        except OperationError as error:
            form.add_error(error)
        else:
            name = member.account.full_name
            flash(f"Les droits de {name} sont modifiés." if changed else f"Aucun changement pour {name}.",
                  "success" if changed else "info")
            return redirect(url_for(".members"))
    return render_template("organisation/rights.html", member=member, form=form), 422


@bp.get("/utilisateurs/<int:member_id>/detacher")
@require_right(*MODIFY)
def member_detach_confirm(member_id):
    return render_template("organisation/detach.html", member=_member_or_404(member_id), form=ActionForm())


@bp.post("/utilisateurs/<int:member_id>/detacher")
@require_right(*MODIFY)
def member_detach(member_id):
    member = _member_or_404(member_id)
    form = ActionForm()
    if form.validate_on_submit():
        try:
            ops.detach_member(g.structure, _actor(), member)
        except OperationError as error:
            form.add_error(error)
        else:
            flash(f"{member.account.full_name} n'est plus rattaché(e) à la structure.", "success")
            return redirect(url_for(".members"))
    return render_template("organisation/detach.html", member=member, form=form), 422


@bp.get("/gestionnaire")
@require_gestionnaire
@recent_login_required
def handover():
    return _handover_page(HandOverForm())


@bp.post("/gestionnaire")
@require_gestionnaire
@recent_login_required
def handover_save():
    form = HandOverForm()
    if form.validate_on_submit():
        try:
            successor = ops.hand_over_gestionnaire(g.structure, _actor(), form.member_id.data)
        except OperationError as error:
            form.add_error(error)
        else:
            flash(f"{successor.full_name} est désormais gestionnaire principal de la structure.", "success")
            return redirect(url_for(".members"))
    return _handover_page(form, 422)


def _handover_page(form: HandOverForm, status: int = 200):
    others = [m for m in ops.approved_members(g.structure) if m.account_id != current_user.id]
    form.member_id.choices = person_choices(others, account=lambda m: m.account)
    return render_template("organisation/handover.html", form=form), status


# --- Approvals -----------------------------------------------------------------------------------------------------

@bp.get("/approbations")
@require_right(*CONSULT)
def approvals():
    return _approvals_page()


@bp.post("/approbations/<int:rattachement_id>/approuver")
@require_right(*MODIFY)
def approve(rattachement_id):
    rattachement = _request_or_404(rattachement_id)
    form = RightsForm(prefix=f"a{rattachement.id}")
    if form.validate_on_submit():
        try:
            ops.approve_rattachement(g.structure, _actor(), rattachement, form.rights())
        except OperationError as error:
            form.add_error(error)
        else:
            return _decided(rattachement, f"{rattachement.account.full_name} est rattaché(e) à la structure.")
    return _approval_failed(rattachement, approve_form=form)


@bp.post("/approbations/<int:rattachement_id>/refuser")
@require_right(*MODIFY)
def refuse(rattachement_id):
    rattachement = _request_or_404(rattachement_id)
    form = RefuseForm(prefix=f"r{rattachement.id}")
    if form.validate_on_submit():
        try:
            ops.refuse_rattachement(g.structure, _actor(), rattachement, form.reason.data)
        except OperationError as error:
            form.add_error(error)
        else:
            return _decided(rattachement, f"La demande de {rattachement.account.full_name} est refusée.")
    return _approval_failed(rattachement, refuse_form=form)


def _approval_forms(rattachement: Rattachement, approve_form=None, refuse_form=None):
    """The row's two forms: the one just posted (with its errors) and a blank one for the other."""
    if approve_form is None:
        approve_form = RightsForm(prefix=f"a{rattachement.id}", formdata=None).fill(
            rights_rules.DEFAULT_MEMBER_RIGHTS)
    if refuse_form is None:
        refuse_form = RefuseForm(prefix=f"r{rattachement.id}", formdata=None)
    return approve_form, refuse_form


def _approvals_page(failed: Rattachement | None = None, approve_form=None, refuse_form=None, status: int = 200):
    requests = ops.pending_requests(g.structure)
    forms = {}
    for r in requests:
        is_failed = failed is not None and r.id == failed.id
        forms[r.id] = _approval_forms(r, approve_form, refuse_form) if is_failed else _approval_forms(r)
    # A request decided meanwhile is no longer listed: its refusal is shown above the list.
    stale_errors = []
    if failed is not None and failed.id not in forms:
        stale_errors = [e for f in (approve_form, refuse_form) if f is not None for e in f.form_errors]
    return render_template("organisation/approvals.html", requests=requests, forms=forms,
                           stale_errors=stale_errors), status


def _decided(rattachement: Rattachement, message: str):
    if _inline():
        return render_template("organisation/_approval_row.html", request_row=rattachement, done=message)
    flash(message, "success")
    return redirect(url_for(".approvals"))


def _approval_failed(rattachement: Rattachement, approve_form=None, refuse_form=None):
    if _inline():
        approve_form, refuse_form = _approval_forms(rattachement, approve_form, refuse_form)
        return render_template("organisation/_approval_row.html", request_row=rattachement,
                               approve_form=approve_form, refuse_form=refuse_form), 422
    return _approvals_page(rattachement, approve_form, refuse_form, 422)


# --- Settings ------------------------------------------------------------------------------------------------------

@bp.get("/parametres")
@require_right(*CONSULT)
def settings():
    return render_template("organisation/settings.html", form=SettingsForm(obj=g.structure),
                           legal_forms=legal_identity.LEGAL_FORMS)


@bp.post("/parametres")
@require_right(*MODIFY)
def settings_save():
    form = SettingsForm()
    if form.validate_on_submit():
        try:
            changes = ops.update_structure(
                g.structure, _actor(), name=form.name.data, is_public=form.is_public.data,
                address_line=form.address_line.data, postal_code=form.postal_code.data, city=form.city.data,
                vat_number=form.vat_number.data, size_class=form.size_class.data,
                routing_requirement=form.routing_requirement.data, legal_form=form.legal_form.data,
                share_capital=form.share_capital.data, registration=form.registration.data)
        except OperationError as error:
            form.add_error(error)
        else:
            flash("Les paramètres de la structure sont enregistrés." if changes else "Aucun changement.",
                  "success" if changes else "info")
            return redirect(url_for(".settings"))
    return render_template("organisation/settings.html", form=form, legal_forms=legal_identity.LEGAL_FORMS), 422


# --- Services ------------------------------------------------------------------------------------------------------

@bp.get("/services")
@require_right(*CONSULT)
def services():
    return _services_page(NewServiceForm(formdata=None))


@bp.post("/services")
@require_right(*MODIFY)
def service_create():
    form = NewServiceForm()
    if form.validate_on_submit():
        try:
            service = ops.create_service(g.structure, _actor(), code=form.code.data, name=form.name.data,
                                         valid_from=form.valid_from.data, valid_to=form.valid_to.data,
                                         engagement_required=form.engagement_required.data)
        except OperationError as error:
            form.add_error(error)
        else:
            flash(f"Le service {service.code} est créé.", "success")
            return redirect(url_for(".service", service_id=service.id))
    return _services_page(form, 422)


def _services_page(form: NewServiceForm, status: int = 200):
    return render_template("organisation/services.html", services=ops.services_of(g.structure), form=form), status


@bp.get("/services/<int:service_id>")
@require_right(*CONSULT)
def service(service_id):
    return _service_page(_service_or_404(service_id))


@bp.post("/services/<int:service_id>")
@require_right(*MODIFY)
def service_update(service_id):
    service = _service_or_404(service_id)
    form = ServiceForm()
    if form.validate_on_submit():
        try:
            changes = ops.update_service(g.structure, _actor(), service, name=form.name.data,
                                         valid_from=form.valid_from.data, valid_to=form.valid_to.data,
                                         engagement_required=form.engagement_required.data)
        except OperationError as error:
            form.add_error(error)
        else:
            flash(f"Le service {service.code} est modifié." if changes else "Aucun changement.",
                  "success" if changes else "info")
            return redirect(url_for(".service", service_id=service.id))
    return _service_page(service, form=form, status=422)


@bp.post("/services/<int:service_id>/desactiver")
@require_right(*MODIFY)
def service_deactivate(service_id):
    return _service_action(service_id, lambda s: ops.set_service_active(g.structure, _actor(), s, False),
                           "Le service {code} est désactivé : il n'est plus proposé pour les nouvelles factures.")


@bp.post("/services/<int:service_id>/reactiver")
@require_right(*MODIFY)
def service_reactivate(service_id):
    return _service_action(service_id, lambda s: ops.set_service_active(g.structure, _actor(), s, True),
                           "Le service {code} est réactivé.")


@bp.post("/services/<int:service_id>/supprimer")
@require_right(*MODIFY)
def service_delete(service_id):
    return _service_action(service_id, lambda s: ops.delete_service(g.structure, _actor(), s),
                           "Le service {code} est supprimé.", back_to_list=True)


def _service_action(service_id: int, operation, message: str, back_to_list: bool = False):
    """A button on the service page (deactivate, reactivate, delete): CSRF only, a refusal shown by the button."""
    service = _service_or_404(service_id)
    form = ActionForm()
    if form.validate_on_submit():
        code = service.code
        try:
            operation(service)
        except OperationError as error:
            form.add_error(error)
        else:
            flash(message.format(code=code), "success")
            return redirect(url_for(".services") if back_to_list else url_for(".service", service_id=service_id))
    return _service_page(service, action_form=form, status=422)


@bp.post("/services/<int:service_id>/membres")
@require_right(*MODIFY)
def service_member_add(service_id):
    service = _service_or_404(service_id)
    form = ServiceMemberForm()
    if form.validate_on_submit():
        try:
            ops.add_service_member(g.structure, _actor(), service, form.account_id.data)
        except OperationError as error:
            form.add_error(error)
        else:
            return _service_members_changed(service, "L'utilisateur est ajouté au service.")
    return _service_members_failed(service, form)


@bp.post("/services/<int:service_id>/membres/<int:account_id>/retirer")
@require_right(*MODIFY)
def service_member_remove(service_id, account_id):
    service = _service_or_404(service_id)
    row = _service_member_or_404(service, account_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    ops.remove_service_member(g.structure, _actor(), service, row)
    return _service_members_changed(service, "L'utilisateur est retiré du service.")


def _service_members_changed(service: Service, message: str):
    if _inline():
        return _service_members_fragment(service, ServiceMemberForm(formdata=None), notice=message)
    flash(message, "success")
    return redirect(url_for(".service", service_id=service.id))


def _service_members_failed(service: Service, form: ServiceMemberForm):
    if _inline():
        return _service_members_fragment(service, form), 422
    return _service_page(service, member_form=form, status=422)


def _service_members_context(service: Service, form: ServiceMemberForm) -> dict:
    form.account_id.choices = person_choices(ops.members_not_in_service(g.structure, service))
    return {"service": service, "members": ops.service_members(service), "member_form": form,
            "remove_form": ActionForm(formdata=None)}


def _service_members_fragment(service: Service, form: ServiceMemberForm, notice: str | None = None):
    return render_template("organisation/_service_members.html", notice=notice,
                           **_service_members_context(service, form))


def _service_page(service: Service, form: ServiceForm | None = None, member_form: ServiceMemberForm | None = None,
                  action_form: ActionForm | None = None, status: int = 200):
    return render_template(
        "organisation/service.html", form=form or ServiceForm(obj=service, formdata=None),
        action_form=action_form or ActionForm(formdata=None),
        **_service_members_context(service, member_form or ServiceMemberForm(formdata=None))), status


# --- Bank details --------------------------------------------------------------------------------------------------

@bp.get("/coordonnees-bancaires")
@require_right(*CONSULT)
def bank_accounts():
    return render_template("organisation/bank_accounts.html", bank_accounts=ops.bank_accounts_of(g.structure))


@bp.get("/coordonnees-bancaires/nouvelles")
@require_right(*MODIFY)
@recent_login_required
def bank_account_new():
    return render_template("organisation/bank_account_new.html", form=BankAccountForm(formdata=None))


@bp.post("/coordonnees-bancaires")
@require_right(*MODIFY)
@recent_login_required
def bank_account_add():
    form = BankAccountForm()
    if form.validate_on_submit():
        try:
            account = ops.add_bank_account(g.structure, _actor(), label=form.label.data, iban=form.iban.data,
                                           bic=form.bic.data, affactureur=form.affactureur.data,
                                           make_default=form.is_default.data)
        except OperationError as error:
            form.add_error(error)
        else:
            flash(f"Le compte « {account.label} » ({account.iban_masked}) est ajouté. Le gestionnaire principal "
                  "en est informé par e-mail.", "success")
            return redirect(url_for(".bank_accounts"))
    return render_template("organisation/bank_account_new.html", form=form), 422


@bp.get("/coordonnees-bancaires/<int:bank_account_id>")
@require_right(*MODIFY)
@recent_login_required
def bank_account(bank_account_id):
    return _bank_account_page(_bank_account_or_404(bank_account_id))


@bp.post("/coordonnees-bancaires/<int:bank_account_id>")
@require_right(*MODIFY)
@recent_login_required
def bank_account_update(bank_account_id):
    account = _bank_account_or_404(bank_account_id)
    form = BankAccountEditForm()
    if form.validate_on_submit():
        try:
            changed = ops.update_bank_account(g.structure, _actor(), account, label=form.label.data,
                                              affactureur=form.affactureur.data)
        except OperationError as error:
            form.add_error(error)
        else:
            flash("Le compte est modifié. Le gestionnaire principal en est informé par e-mail." if changed
                  else "Aucun changement.", "success" if changed else "info")
            return redirect(url_for(".bank_accounts"))
    return _bank_account_page(account, form=form, status=422)


@bp.post("/coordonnees-bancaires/<int:bank_account_id>/par-defaut")
@require_right(*MODIFY)
@recent_login_required
def bank_account_default(bank_account_id):
    return _bank_action(bank_account_id, lambda a: ops.set_default_bank_account(g.structure, _actor(), a),
                        "Le compte « {label} » est désormais le compte par défaut.")


@bp.post("/coordonnees-bancaires/<int:bank_account_id>/desactiver")
@require_right(*MODIFY)
@recent_login_required
def bank_account_deactivate(bank_account_id):
    return _bank_action(bank_account_id, lambda a: ops.deactivate_bank_account(g.structure, _actor(), a),
                        "Le compte « {label} » est désactivé : il n'est plus proposé sur les factures.")


def _bank_action(bank_account_id: int, operation, message: str):
    account = _bank_account_or_404(bank_account_id)
    form = ActionForm()
    if form.validate_on_submit():
        try:
            operation(account)
        except OperationError as error:
            form.add_error(error)
        else:
            flash(message.format(label=account.label), "success")
            return redirect(url_for(".bank_accounts"))
    return _bank_account_page(account, action_form=form, status=422)


def _bank_account_page(account: BankAccount, form: BankAccountEditForm | None = None,
                       action_form: ActionForm | None = None, status: int = 200):
    return render_template("organisation/bank_account.html", account=account,
                           form=form or BankAccountEditForm(obj=account, formdata=None),
                           action_form=action_form or ActionForm(formdata=None)), status
