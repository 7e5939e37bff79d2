"""The décompte général's three decisions, each a button of the final état's page (`etats.show`, section
« Décompte général »): the MOE establishes the projet de décompte général, the MOA establishes and notifies the
décompte général, the titulaire signs it (with or without reservations and the mémoire en réclamation).

Thin: the operations (`operations.decompte_general`) check who may, when, and what; a refusal re-renders the état's
page with the French message (422: nothing kept).
"""
from __future__ import annotations

from flask import flash, g, redirect, request, url_for
from flask_login import current_user

from chorus_chain.blueprints.etats.views import CHANGE, _access, _etat, _render_show
from chorus_chain.blueprints.pieces.forms import uploaded
from chorus_chain.formatting import instant, money
from chorus_chain.models.base import utcnow
from chorus_chain.operations import OperationError
from chorus_chain.operations.decompte_general import dg as dg_ops
from chorus_chain.operations.decompte_general import pdg as pdg_ops
from chorus_chain.operations.decompte_general import signature as signature_ops
from chorus_chain.tenancy import require_right, tenant_blueprint

bp = tenant_blueprint("decompte_general", __name__,
                      url_prefix="/marches/<int:marche_id>/etats/<int:etat_id>/decompte-general")


def _back(marche_id: int, etat_id: int):
    return redirect(url_for("etats.show", marche_id=marche_id, etat_id=etat_id, _anchor="decompte-general"))


@bp.post("/projet")
@require_right(*CHANGE)
def establish_pdg(marche_id: int, etat_id: int):
    access = _access(marche_id)
    etat = _etat(access, etat_id)
    try:
        pdg_ops.establish_pdg(access, etat_id, current_user, g.structure, now=utcnow())
    except OperationError as error:
        return _render_show(access, etat, 422, error)
    flash(f"Projet de décompte général établi : la pièce A17 (solde {money(etat.result['marche']['amount_due']['this'])}) "
          f"part au maître d'ouvrage, qui en fera son décompte général.", "success")
    return _back(marche_id, etat_id)


@bp.post("/notifier")
@require_right(*CHANGE)
def establish_dg(marche_id: int, etat_id: int):
    access = _access(marche_id)
    etat = _etat(access, etat_id)
    try:
        row = dg_ops.establish_dg(access, etat_id, current_user, g.structure, now=utcnow())
    except OperationError as error:
        return _render_show(access, etat, 422, error)
    flash("Décompte général établi et notifié au titulaire (pièce A20) : il a jusqu'au "
          f"{instant(row.signature_due_at)} pour le signer, avec ou sans réserves.", "success")
    return _back(marche_id, etat_id)


@bp.post("/signer")
@require_right(*CHANGE)
def sign(marche_id: int, etat_id: int):
    access = _access(marche_id)
    etat = _etat(access, etat_id)
    form = request.form
    with_reservations = form.get("signature") == "avec_reserves"
    typed = {"signature": form.get("signature", ""), "reservations": form.get("reservations", ""),
             "claimed_amount": form.get("claimed_amount", "")}
    try:
        if form.get("signature") not in ("sans_reserve", "avec_reserves"):
            raise OperationError("Choisissez : signer sans réserve, ou avec réserves (mémoire en réclamation).",
                                 field="signature")
        row = signature_ops.sign(access, etat_id, current_user, g.structure, with_reservations=with_reservations,
                                 reservations=form.get("reservations"), claimed_amount=form.get("claimed_amount"),
                                 memoire=uploaded(request.files.get("memoire")) if with_reservations else None,
                                 now=utcnow())
    except OperationError as error:
        return _render_show(access, etat, 422, error, dg_form=typed)
    if row.signature == "avec_reserves":
        flash(f"Décompte général signé avec réserves : la partie non contestée (le solde) part au service financier "
              f"(DGD, pièce A8) ; les {money(row.claimed_amount)} réclamés restent en litige.", "success")
    else:
        flash("Décompte général signé sans réserve : c'est le décompte général et définitif (pièce A8), transmis au "
              "service financier qui paie le solde.", "success")
    return _back(marche_id, etat_id)
