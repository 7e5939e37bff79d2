"""Marchés: list, creation, the marché page with its chain, parties and DC4, the fiche d'identité, the export.

Access: a structure sees a marché only once it has confirmed a role on it (before that, only the invitation);
the MOA, the MOE and the titulaire/mandataire see the whole chain, any other company its own branch — a party
outside it answers 404. Viewing needs "Factures de travaux – consultation", changing "– modification".
"""
from __future__ import annotations

import io
import json

from flask import Blueprint, abort, flash, g, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from markupsafe import Markup
from wtforms.fields.choices import SelectChoice

from chorus_chain import graph
from chorus_chain.blueprints.marches.forms import (
    AvenantForm,
    ConfirmForm,
    Dc4DecisionForm,
    InvitedStructureForm,
    MarcheForm,
    PartyForm,
    ReceptionForm,
    SousTraitantForm,
)
from chorus_chain.blueprints.forms import Form
from chorus_chain.blueprints.marches import finances as finance_charts
from chorus_chain.domain.money import add_months
from chorus_chain.extensions import db
from chorus_chain.formatting import day as format_day
from chorus_chain.graph import ROLE_LABELS
from chorus_chain.graph.svg import chain_svg
from chorus_chain.models import Marche, Structure
from chorus_chain.models.base import utcnow
from chorus_chain.operations import OperationError
from chorus_chain.operations import documents_list
from chorus_chain.operations import marches as ops
from chorus_chain.operations import retenue as retenue_ops
from chorus_chain.operations.money_clauses.guarantees import KIND_LABELS as GUARANTEE_KIND_LABELS
from chorus_chain.operations.money_clauses.page import clauses_page
from chorus_chain.operations.documents import file_name_part
from chorus_chain.operations.export import marche_export
from chorus_chain.operations.finances import marche_finances
from chorus_chain.operations import invitation_requests
from chorus_chain.tenancy import require_gestionnaire, require_right, tenant_blueprint

bp = tenant_blueprint("marches", __name__, url_prefix="/marches")
# The signed link of an invitation e-mail, for a company that has no structure yet: outside any tenant.
invitation_bp = Blueprint("marches_invitation", __name__, url_prefix="/invitations")

VIEW = ("travaux", "consultation")
CHANGE = ("travaux", "modification")


def _access(marche_id: int, *, confirmed: bool = True) -> ops.MarcheAccess:
    """The marché as the current structure sees it; 404 when it has no role on it (or, with `confirmed`, before it
    has confirmed one). A POST locks the marché's row for the change (see `operations.marches.access_for`)."""
    access = ops.access_for(g.structure, marche_id, lock=request.method == "POST")
    if access is None or (confirmed and not access.confirmed):
        abort(404)
    return access


def _party(access: ops.MarcheAccess, party_id: int):
    row = access.row(party_id) if access.confirmed else None
    if row is None:
        abort(404)
    return row


def _status(form) -> int:
    return 422 if form.errors else 200


def _chain_picture(access: ops.MarcheAccess, tree: dict) -> Markup:
    notes = {row.id: ops.party_note(row) for row in access.visible_rows() if ops.party_note(row)}
    links = {key: url_for("marches.party", marche_id=access.marche.id, party_id=key) for key in access.visible}
    svg = chain_svg(tree, notes=notes, highlight={row.id for row in access.own}, links=links,
                    title=f"Chaîne du marché {access.marche.reference}")
    return Markup(svg)  # built from escaped texts only (graph/svg.py)


# ---------------------------------------------------------------------------------------------------------------------
# Pages


@bp.get("/")
@require_right(*VIEW)
def index():
    requests = invitation_requests.pending_for(g.structure) if g.is_gestionnaire else []
    return render_template("marches/index.html", marches=ops.marches_of(g.structure),
                           invitations=ops.invitations_of(g.structure), ROLE_LABELS=ROLE_LABELS,
                           invitation_requests=requests, decision_form=Form())


@bp.post("/invitations/demandes/<int:request_id>")
@require_gestionnaire
def decide_invitation_request(request_id: int):
    """The inviting structure's gestionnaire principal approves or refuses another account's request for one of its
    invitations (operations/invitation_requests)."""
    if request_id not in {row.id for row in invitation_requests.pending_for(g.structure)}:
        abort(404)  # another structure's request, or one already decided: nothing to decide here
    form = Form()
    if not form.validate_on_submit():
        abort(400)
    approve = request.form.get("decision") == "approve"
    try:
        decided = invitation_requests.decide(g.structure, current_user, request_id, approve=approve, now=utcnow())
    except OperationError as error:
        flash(error.message, "error")
        return redirect(url_for("marches.index"), 303)
    flash(f"Demande de {decided.structure.name} {'acceptée : l’invitation lui est rattachée' if approve else 'refusée'}.",
          "success")
    return redirect(url_for("marches.index"), 303)


@bp.route("/nouveau", methods=["GET", "POST"])
@require_right(*CHANGE)
def create():
    form = MarcheForm()
    if request.method == "GET":
        form.creator_role.data = "moa" if g.structure.is_public else "titulaire"
    if form.validate_on_submit():
        try:
            marche = ops.create_marche(current_user, g.structure, form.data, now=utcnow())
        except OperationError as error:
            form.add_error(error)
        else:
            flash(f"Le marché {marche.reference} est créé. Les entreprises désignées reçoivent une demande de "
                  "confirmation.", "success")
            return redirect(url_for("marches.show", marche_id=marche.id))
    return render_template("marches/create.html", form=form), _status(form)


def _render_show(access: ops.MarcheAccess, status: int = 200, error: str | None = None):
    if not access.confirmed:
        return render_template("marches/invitation.html", access=access, ROLE_LABELS=ROLE_LABELS,
                               error=error), status
    tree = ops.visible_tree(access)
    return render_template(
        "marches/show.html", access=access, marche=access.marche, picture=_chain_picture(access, tree),
        facts=[ops.party_facts(access, row) for row in ops.ordered_rows(access, tree)],
        missing=ops.missing_parties(access),
        declined=[row for row in access.rows if not row.is_active] if access.full else [],
        can_designate=bool(access.designable_roles()), can_declare=bool(access.contractor_rows()),
        ROLE_LABELS=ROLE_LABELS, error=error, **_money_reminders(access),
        documents=documents_list.marche_block(g.structure, access, ops.today(utcnow())),  # 1 query
    ), status


def _money_reminders(access: ops.MarcheAccess) -> dict:
    """The release date of the retenue de garantie (no query). The late-payment interest of the marché's pieces is
    a fragment of its own (`marche_interest.show`), loaded after the page."""
    return dict(today=ops.today(utcnow()), retenue_release=retenue_ops.release_of(access.marche))


@bp.get("/<int:marche_id>")
@require_right(*VIEW)
def show(marche_id: int):
    return _render_show(_access(marche_id, confirmed=False))


@bp.get("/<int:marche_id>/chaine.svg")
@require_right(*VIEW)
def chain_image(marche_id: int):
    access = _access(marche_id)
    picture = str(_chain_picture(access, ops.visible_tree(access))).encode("utf-8")
    return send_file(io.BytesIO(picture), mimetype="image/svg+xml", as_attachment=False,
                     download_name=f"chaîne-{file_name_part(access.marche.reference)}.svg")


@bp.get("/<int:marche_id>/fiche")
@require_right(*VIEW)
def fiche(marche_id: int):
    access = _access(marche_id)
    return render_template("marches/fiche.html", access=access, marche=access.marche,
                           sheet=ops.identity_sheet(access), missing=ops.missing_parties(access),
                           ROLE_LABELS=ROLE_LABELS, clauses=clauses_page(access, g.structure),
                           GUARANTEE_KINDS=GUARANTEE_KIND_LABELS)


@bp.get("/<int:marche_id>/finances")
@require_right(*VIEW)
def finances(marche_id: int):
    access = _access(marche_id)
    f = marche_finances(access)
    return render_template("marches/finances.html", access=access, marche=access.marche, f=f,
                           marche_chart=finance_charts.marche_chart(f), parties_chart=finance_charts.parties_chart(f),
                           curve=finance_charts.curve(f) if f.months else None)


@bp.post("/<int:marche_id>/reception")
@require_right(*CHANGE)
def reception(marche_id: int):
    access = _access(marche_id)
    form = ReceptionForm()
    if form.validate_on_submit():
        try:
            day = ops.record_reception(current_user, g.structure, access, form.data, now=utcnow())
        except OperationError as error:
            return _render_show(access, 422, error=error.message)
        flash(f"Réception des travaux enregistrée au {format_day(day)} : le délai de garantie court jusqu'au "
              f"{format_day(add_months(day, access.marche.guarantee_months))}.", "success")
        return redirect(url_for("marches.show", marche_id=marche_id))
    return _render_show(access, 422, error="Indiquez la date de la réception.")


@bp.get("/<int:marche_id>/export.json")
@require_right(*VIEW)
def export(marche_id: int):
    access = _access(marche_id)
    if not access.full:  # the dossier of the whole chain: MOA, MOE, titulaire/mandataire only
        abort(404)
    document = marche_export(access.marche, utcnow(), g.structure.id)
    # Named as the user calls it, accents kept (RFC 6266 filename*, an ASCII fallback beside it: send_file).
    return send_file(io.BytesIO(json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")),
                     mimetype="application/json", as_attachment=True,
                     download_name=f"marché-{file_name_part(access.marche.reference)}.json")


@bp.get("/<int:marche_id>/parties/<int:party_id>")
@require_right(*VIEW)
def party(marche_id: int, party_id: int):
    access = _access(marche_id)
    return _render_party(access, _party(access, party_id))


def _render_party(access: ops.MarcheAccess, row, status: int = 200, decision_form=None, avenant_form=None):
    facts = ops.party_facts(access, row)
    if avenant_form is None:
        avenant_form = AvenantForm(formdata=None, signed_on=ops.today(utcnow()))
    return render_template(
        "marches/party.html", access=access, marche=access.marche, facts=facts, row=row,
        decision_form=decision_form or Dc4DecisionForm(formdata=None), avenant_form=avenant_form,
        avenants=ops.avenants_of(row) if row.role == graph.Role.SOUS_TRAITANT else [],
        deadline=ops.open_deadline(row) if row.dc4_status == "pending" else None,
        children=[access_row for access_row in access.visible_rows() if access_row.parent_id == row.id],
        sees_bank=access.sees_bank_details(row), ROLE_LABELS=ROLE_LABELS, note=ops.party_note(row),
    ), status


# ---------------------------------------------------------------------------------------------------------------------
# Changes


@bp.route("/<int:marche_id>/parties/nouvelle", methods=["GET", "POST"])
@require_right(*CHANGE)
def add_party(marche_id: int):
    access = _access(marche_id)
    roles = access.designable_roles()
    if not roles:
        abort(403)
    form = PartyForm()
    form.set_roles(roles)
    if form.validate_on_submit():
        try:
            row = ops.designate_party(current_user, g.structure, access, form.data, now=utcnow())
        except OperationError as error:
            form.add_error(error)
        else:
            flash(f"{row.name} est désigné(e) comme {ROLE_LABELS[row.role]}"
                  + (" : une demande de confirmation lui est envoyée." if row.status == "invited" else "."),
                  "success")
            return redirect(url_for("marches.show", marche_id=marche_id))
    return render_template("marches/party_form.html", access=access, marche=access.marche, form=form), \
        _status(form)


@bp.route("/<int:marche_id>/sous-traitants/nouveau", methods=["GET", "POST"])
@require_right(*CHANGE)
def declare(marche_id: int):
    access = _access(marche_id)
    contractors = access.contractor_rows()
    if not contractors:
        abort(403)
    form = SousTraitantForm()
    form.parent_id.choices = [SelectChoice(str(row.id), f"{row.name} — {ROLE_LABELS[row.role]}")
                              for row in contractors]
    if form.validate_on_submit():
        try:
            row = ops.declare_sous_traitant(current_user, g.structure, access, form.data, now=utcnow())
        except OperationError as error:
            form.add_error(error)
        else:
            flash(f"Le DC4 de {row.name} est transmis au maître d'ouvrage, qui dispose de 21 jours pour l'accepter "
                  "ou le refuser (son silence vaut acceptation).", "success")
            return redirect(url_for("marches.party", marche_id=marche_id, party_id=row.id))
    return render_template("marches/sous_traitant_form.html", access=access, marche=access.marche, form=form), \
        _status(form)


@bp.post("/<int:marche_id>/parties/<int:party_id>/confirmation")
@require_right(*CHANGE)
def confirm(marche_id: int, party_id: int):
    access = _access(marche_id, confirmed=False)
    form = ConfirmForm()
    if form.validate_on_submit() and form.decision.data in ("confirm", "decline"):
        accept = form.decision.data == "confirm"
        try:
            row = ops.confirm_party(current_user, g.structure, access, party_id, accept=accept, now=utcnow())
        except OperationError as error:
            return _render_show(access, 422, error=error.message)
        flash(f"Vous avez confirmé votre rôle de {ROLE_LABELS[row.role]} sur ce marché." if accept else
              f"Vous avez décliné le rôle de {ROLE_LABELS[row.role]} sur ce marché.", "success" if accept else "info")
        if not accept and not ops.access_for(g.structure, marche_id):
            return redirect(url_for("marches.index"))
        return redirect(url_for("marches.show", marche_id=marche_id))
    return _render_show(access, 422, error="Choisissez de confirmer ou de décliner ce rôle.")


@bp.post("/<int:marche_id>/parties/<int:party_id>/dc4")
@require_right(*CHANGE)
def decide_dc4(marche_id: int, party_id: int):
    access = _access(marche_id)
    row = _party(access, party_id)
    form = Dc4DecisionForm()
    if form.validate_on_submit():
        try:
            ops.decide_dc4(current_user, g.structure, access, party_id, accept=form.decision.data == "accept",
                           reason=form.reason.data, now=utcnow())
        except OperationError as error:
            form.add_error(error)
        else:
            flash("Le DC4 est accepté : les conditions de paiement du sous-traitant sont agréées."
                  if form.decision.data == "accept" else "Le DC4 est refusé ; l'entreprise en est informée.",
                  "success")
            return redirect(url_for("marches.party", marche_id=marche_id, party_id=party_id))
    return _render_party(access, row, 422, decision_form=form)


@bp.post("/<int:marche_id>/parties/<int:party_id>/avenant")
@require_right(*CHANGE)
def avenant(marche_id: int, party_id: int):
    access = _access(marche_id)
    row = _party(access, party_id)
    form = AvenantForm()
    if form.validate_on_submit():
        try:
            ops.record_dc4_avenant(current_user, g.structure, access, party_id, form.data, now=utcnow())
        except OperationError as error:
            form.add_error(error)
        else:
            flash("L'avenant au DC4 est enregistré.", "success")
            return redirect(url_for("marches.party", marche_id=marche_id, party_id=party_id))
    return _render_party(access, row, 422, avenant_form=form)


# ---------------------------------------------------------------------------------------------------------------------
# The signed link of an invitation (no structure yet)


@invitation_bp.route("/<token>", methods=["GET", "POST"], endpoint="show")
def invitation(token: str):
    try:
        party = ops.read_invitation(token)
    except OperationError as error:
        return render_template("marches/invitation_link.html", error=error.message), 400
    marche = db.session.get(Marche, party.marche_id)
    inviter = db.session.get(Structure, party.invited_by_id) if party.invited_by_id else None
    context = dict(party=party, marche=marche, inviter=inviter, role_label=ROLE_LABELS[party.role], token=token)
    if not current_user.is_authenticated:
        if request.method == "POST":
            abort(403)
        return render_template("marches/invitation_link.html", **context)
    try:
        ops.check_invitee(current_user, party)  # only the account the invitation was sent to answers it
    except OperationError as error:
        # Anyone else may ask the inviter for the role, for its structure of the invited SIRET
        # (operations/invitation_requests): nothing is linked without the inviter's approval.
        existing, member = ops.invitation_target(current_user, party)
        return render_template("marches/invitation_link.html", refused=error.message, existing=existing,
                               member=member, ask_form=Form(), **context), 403
    existing, member = ops.invitation_target(current_user, party)
    if existing is not None:
        if member and request.method == "POST":
            _, structure = ops.claim_invitation(current_user, token)
            flash(f"L'invitation est rattachée à {structure.name} : confirmez maintenant son rôle sur le marché.",
                  "success")
            return redirect(url_for("marches.show", siret=structure.siret, marche_id=marche.id))
        return render_template("marches/invitation_link.html", existing=existing, member=member,
                               claim_form=Form(), **context)
    form = InvitedStructureForm(name=party.name)
    if form.validate_on_submit():
        try:
            structure = ops.create_invited_structure(current_user, token, form.data)
        except OperationError as error:
            form.add_error(error)
        else:
            flash(f"La structure {structure.name} est créée : vous en êtes le gestionnaire principal. Confirmez "
                  "maintenant votre rôle sur le marché.", "success")
            return redirect(url_for("marches.show", siret=structure.siret, marche_id=marche.id))
    return render_template("marches/invitation_link.html", form=form, **context), _status(form)


@invitation_bp.post("/<token>/demande", endpoint="ask")
def ask_invitation(token: str):
    """Another account than the invited one asks the inviter for the invitation's role (nothing linked yet)."""
    if not current_user.is_authenticated:
        abort(403)
    form = Form()
    if not form.validate_on_submit():
        abort(400)
    try:
        invitation_requests.ask(current_user, token, request.form.get("message", ""), now=utcnow())
    except OperationError as error:
        return render_template("marches/invitation_link.html", error=error.message), 422
    flash("Votre demande est transmise à l'entreprise invitante : vous recevrez sa réponse par e-mail.", "success")
    return redirect(url_for("accounts.structures"), 303)
