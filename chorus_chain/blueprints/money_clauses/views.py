"""« Retenue et avance » of a marché (/s/<siret>/marches/<id>/retenue-et-avance): the guarantees replacing the
retenue, each beneficiary's advance (and a sous-traitant's choice to decline it), the pace of the repayment.

Access as the marché page: a confirmed role on the marché (404 otherwise), "Factures de travaux – consultation" to
read, "– modification" to change (403). Who may change what is the operations' rule (`operations.money_clauses`):
the MOA records guarantees and sets the pace; a sous-traitant (or the MOA) says whether it takes its advance. A
refusal re-renders the page with its French message (422), nothing changed.
"""
from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user

from chorus_chain.models.base import utcnow
from chorus_chain.operations import OperationError
from chorus_chain.operations import marches as marche_ops
from chorus_chain.operations.money_clauses import avance as avance_ops
from chorus_chain.operations.money_clauses import guarantees as guarantee_ops
from chorus_chain.operations.money_clauses.page import KIND_LABELS, ROLE_LABELS, clauses_page
from chorus_chain.operations.money_clauses.avance import BASES
from chorus_chain.tenancy import require_right, tenant_blueprint

bp = tenant_blueprint("money_clauses", __name__, url_prefix="/marches")

VIEW = ("travaux", "consultation")
CHANGE = ("travaux", "modification")


def _access(marche_id: int) -> marche_ops.MarcheAccess:
    access = marche_ops.access_for(g.structure, marche_id, lock=request.method == "POST")
    if access is None or not access.confirmed:
        abort(404)
    return access


def _render(access: marche_ops.MarcheAccess, status: int = 200, error: OperationError | None = None):
    return render_template("money_clauses/show.html", access=access, marche=access.marche,
                           page=clauses_page(access, g.structure), KIND_LABELS=KIND_LABELS, BASES=BASES,
                           ROLE_LABELS=ROLE_LABELS, error=error, form=request.form if error else {},
                           today=marche_ops.today(utcnow())), status


def _done(marche_id: int, message: str):
    flash(message, "success")
    return redirect(url_for("money_clauses.show", marche_id=marche_id))


@bp.get("/<int:marche_id>/retenue-et-avance")
@require_right(*VIEW)
def show(marche_id: int):
    return _render(_access(marche_id))


@bp.post("/<int:marche_id>/retenue-et-avance/garanties")
@require_right(*CHANGE)
def add_guarantee(marche_id: int):
    access = _access(marche_id)
    try:
        guarantee_ops.add_guarantee(current_user, g.structure, access, request.form, now=utcnow())
    except OperationError as error:
        return _render(access, 422, error)
    return _done(marche_id, "La garantie est enregistrée : la retenue de garantie n'est plus prélevée que sur ce "
                            "qu'elle ne couvre pas.")


@bp.post("/<int:marche_id>/retenue-et-avance/rythme")
@require_right(*CHANGE)
def set_pace(marche_id: int):
    access = _access(marche_id)
    try:
        avance_ops.set_pace(current_user, g.structure, access, request.form, now=utcnow())
    except OperationError as error:
        return _render(access, 422, error)
    return _done(marche_id, "Le rythme du remboursement de l'avance est enregistré ; il s'applique aux prochains "
                            "états d'acompte.")


@bp.post("/<int:marche_id>/retenue-et-avance/echeancier")
@require_right(*CHANGE)
def set_fixed_amounts(marche_id: int):
    access = _access(marche_id)
    try:
        rows = avance_ops.set_fixed_amounts(current_user, g.structure, access, request.form.get("party_id"),
                                            request.form.get("schedule", ""), now=utcnow())
    except OperationError as error:
        return _render(access, 422, error)
    return _done(marche_id, "L'échéancier de remboursement est enregistré." if rows else
                 "L'échéancier est retiré : le remboursement suit de nouveau le rythme linéaire du marché.")


@bp.post("/<int:marche_id>/retenue-et-avance/avance/<int:party_id>")
@require_right(*CHANGE)
def decline_avance(marche_id: int, party_id: int):
    access = _access(marche_id)
    if access.row(party_id) is None:
        abort(404)
    declined = request.form.get("decision") == "decline"
    try:
        avance_ops.set_avance_declined(current_user, g.structure, access, party_id, declined, now=utcnow())
    except OperationError as error:
        return _render(access, 422, error)
    return _done(marche_id, "L'avance du sous-traitant est refusée : elle ne lui sera pas versée." if declined else
                 "L'avance du sous-traitant est demandée : elle lui sera versée.")
