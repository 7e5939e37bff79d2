"""Modifications de marché (avenants): /s/<siret>/marches/<id>/avenants.

Who reads: every confirmed party of the marché (the marché's amount is public, CCP R2196-1), but the part an avenant
changes and its lines only where the structure reads that party's amounts (`access.amounts`, CONTRIBUTING « What a
sous-traitant sees above it »). Who records: the maître d'ouvrage, with « Factures de travaux – modification ».
"""
from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user

from chorus_chain.blueprints.avenants.forms import AvenantForm
from chorus_chain.graph import ROLE_LABELS, Role, format_euros
from chorus_chain.models.base import utcnow
from chorus_chain.operations import OperationError
from chorus_chain.operations import avenants as ops
from chorus_chain.operations import marches as marches_ops
from chorus_chain.tenancy import require_right, tenant_blueprint

bp = tenant_blueprint("avenants", __name__, url_prefix="/marches")


def _access(marche_id: int) -> marches_ops.MarcheAccess:
    access = marches_ops.access_for(g.structure, marche_id, lock=request.method == "POST")
    if access is None or not access.confirmed:
        abort(404)
    return access


def _render(access: marches_ops.MarcheAccess, form: AvenantForm | None, status: int = 200):
    page = ops.page_of(access)
    if form is not None:
        form.party_id.choices = [("", "Le titulaire ou le mandataire")] + [
            (str(row.id), f"{row.name} — {ROLE_LABELS[row.role]}") for row in page.parts
            if row.role != Role.TITULAIRE and row.role != Role.MANDATAIRE]
    return render_template("avenants/index.html", access=access, marche=access.marche, page=page, form=form,
                           ROLE_LABELS=ROLE_LABELS), status


@bp.get("/<int:marche_id>/avenants")
@require_right("travaux", "consultation")
def index(marche_id: int):
    access = _access(marche_id)
    return _render(access, AvenantForm() if access.is_moa else None)


@bp.post("/<int:marche_id>/avenants")
@require_right("travaux", "modification")
def record(marche_id: int):
    access = _access(marche_id)
    form = AvenantForm()
    if form.validate_on_submit():
        raw = {**form.data, **{k: v for k, v in request.form.items() if k.startswith("line_")}}
        try:
            avenant = ops.record_avenant(current_user, g.structure, access, raw, now=utcnow())
        except OperationError as error:
            form.add_error(error)
        else:
            flash(f"L'avenant n° {avenant.number} est enregistré : le marché passe à "
                  f"{format_euros(avenant.montant_after_ht)} HT.", "success")
            return redirect(url_for("avenants.index", marche_id=marche_id))
    return _render(access, form, 422)
