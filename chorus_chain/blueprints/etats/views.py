"""États d'acompte of a marché: the list, the état page (claimed vs admitted, the legal layout, payable per payee, "Comment
est-ce calculé ?"), the MOE's corrections, penalties and issue, and the index table.

Access: any company with a confirmed role on the works marché may open these pages ("Factures de travaux –
consultation"); what it sees of an état is filtered by the operation (`etats_acompte.visible_result`). Only the MOE
changes anything ("– modification"); the operations refuse anyone else in French.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from chorus_chain.extensions import db
from chorus_chain.operations.finances import paid_by_contractor
from chorus_chain.formatting import day, money, number
from chorus_chain.graph import ROLE_LABELS
from chorus_chain.graph import Role as ROLE
from chorus_chain.models.base import utcnow
from chorus_chain.operations import OperationError
from chorus_chain.operations import etats_acompte as ops
from chorus_chain.operations import marches as marche_ops
from chorus_chain.operations.decompte_general import reading as dg_reading
from chorus_chain.operations.etat_pieces import moa as moa_ops
from chorus_chain.operations.etat_pieces import paying
from chorus_chain.operations.etat_pieces import reading as etat_reading
from chorus_chain.operations.interets import paying as interets_paying
from chorus_chain.tenancy import require_right, tenant_blueprint

bp = tenant_blueprint("etats", __name__, url_prefix="/marches/<int:marche_id>/etats")

VIEW = ("travaux", "consultation")
CHANGE = ("travaux", "modification")


def _access(marche_id: int) -> marche_ops.MarcheAccess:
    """The works marché as the current structure sees it; 404 without a confirmed role on it. A POST locks the
    marché's row (the état's number and issue are decided one at a time)."""
    access = marche_ops.access_for(g.structure, marche_id, lock=request.method == "POST")
    if access is None or not access.confirmed or access.marche.kind != "travaux":
        abort(404)
    return access


def _etat(access: marche_ops.MarcheAccess, etat_id: int):
    etat = ops.get_etat(access.marche, etat_id)
    if etat is None:
        abort(404)
    return etat


# ---------------------------------------------------------------------------------------------------------------------
# French display of the engine's explanation lines


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


@bp.app_template_filter("isodate")
def isodate(value: str | None) -> str:
    """A date stored as "YYYY-MM-DD" in a frozen result, in French."""
    return day(date.fromisoformat(value)) if value else "—"


@bp.app_template_filter("etat_value")
def etat_value(value: Any, unit: str | None = None) -> str:
    """An operand or a result of an explanation line in French: amounts in euros, rates in percent, numbers as
    precise as they are stored ("1,009"), days, dates."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "oui" if value else "non"
    if unit == "date":
        return day(date.fromisoformat(str(value)))
    if unit == "jours":
        return f"{value} jour{'s' if int(value) > 1 else ''}"
    found = _decimal(value)
    if found is None:
        return str(value)
    # As precise as stored, but never a trailing zero (« 0,125 », « 35 % », not « 0,1250 », « 35,000 % »).
    exponent = found.normalize().as_tuple().exponent
    places = max(0, -exponent) if isinstance(exponent, int) else 2
    if unit == "€":
        return money(found)
    if unit == "taux":
        percent = (found * 100).normalize()
        digits = max(0, -percent.as_tuple().exponent)
        return f"{number(percent, digits)}\u00a0%"
    if unit == "%":
        return f"{number(found, places)}\u00a0%"
    return number(found, places)


# ---------------------------------------------------------------------------------------------------------------------
# Pages


def _add_paid(rows: list[dict], mine: set[int]) -> None:
    """What each état has paid this structure so far (its payment lines, one query): the page says « payé » only of
    what was paid, never of an amount merely certified."""
    from chorus_chain.models.etat_pieces import PayableLine

    ids = [row["etat"].id for row in rows if row["amount"] is not None]
    if not ids:
        return
    paid: dict[int, list] = {}
    for etat_id, amount, paid_on in db.session.execute(
            select(PayableLine.etat_acompte_id, PayableLine.paid_amount, PayableLine.paid_on)
            .where(PayableLine.etat_acompte_id.in_(ids), PayableLine.payee_party_id.in_(mine))):
        total, last = paid.get(etat_id, (Decimal(0), None))
        paid[etat_id] = (total + amount, max(filter(None, (last, paid_on)), default=None))
    for row in rows:
        if row["etat"].id in paid:
            row["paid"] = paid[row["etat"].id]


def _render_index(access, status: int = 200, error: OperationError | None = None, month: str = ""):
    etats = ops.etats_of(access.marche)
    mine = ops.own_keys(access)
    whole = ops.sees_whole(access)
    rows = []
    for etat in etats:
        result = etat.result if etat.status == "issued" else None
        if result is None:
            amount = None
        elif whole:
            amount = Decimal(result["marche"]["amount_due"]["this"])
        else:
            own = [Decimal(p["this"]) for p in result["payables"] if p["payee_key"] in mine]
            amount = sum(own, Decimal(0)) if own else None
        rows.append({"etat": etat, "amount": amount, "paid": None})
    if not whole and mine:
        _add_paid(rows, mine)
    # The final état's décompte général: where it stands and what this structure may do (one état per marché).
    dg_views = {etat.id: dg_reading.view_for(access, etat, can_change=current_rights_allow_change(), now=utcnow())
                for etat in etats if etat.final}
    return render_template("etats/index.html", access=access, marche=access.marche, rows=rows, whole=whole,
                           is_moe=ops.is_moe(access), error=error, month=month, dg_views=dg_views,
                           paid_by=paid_by_contractor(access)), status


@bp.get("/")
@require_right(*VIEW)
def index(marche_id: int):
    return _render_index(_access(marche_id))


@bp.post("/")
@require_right(*CHANGE)
def open_etat(marche_id: int):
    access = _access(marche_id)
    try:
        etat = ops.open_etat(access, current_user, g.structure, request.form.get("month"), now=utcnow(),
                             final=request.form.get("final") == "1")
    except OperationError as error:
        return _render_index(access, 422, error, request.form.get("month", ""))
    if etat.final:
        flash(f"Décompte général ouvert (état final n° {etat.number}) : admettez ou corrigez les projets de décompte "
              "finals, puis émettez-le.", "success")
    else:
        flash(f"État d'acompte n° {etat.number} ouvert : admettez ou corrigez chaque ligne, puis émettez-le.",
              "success")
    return redirect(url_for("etats.show", marche_id=marche_id, etat_id=etat.id))


def _circuit(access, etat) -> dict:
    """The état as a document: its A15 / A19, the état it replaces or that replaced it, the lines this structure may
    see, and what it may do (the MOA decides, the paying office pays)."""
    from chorus_chain.models import Piece

    pieces = {p.id: p for p in db.session.scalars(select(Piece).where(
        Piece.id.in_([i for i in (etat.piece_id, etat.validated_piece_id) if i])))}
    related = {e.id: e for e in ops.etats_of(access.marche) if e.number == etat.number}
    roles = access.own_roles()
    return {
        "a15": pieces.get(etat.piece_id), "a19": pieces.get(etat.validated_piece_id),
        "pdm_count": len(etat_reading.pdm_piece_ids(etat.id)),
        "replaced": related.get(etat.replaces_id),
        "again": next((e for e in related.values() if e.replaces_id == etat.id), None),
        "is_moa": moa_ops.is_moa(access),
        "can_pay": paying.is_paying_office(access) and current_rights_allow_change(),
        "show_pieces": bool(roles & {ROLE.MOE, ROLE.MOA, ROLE.PAYING_OFFICE}),
        "sees_every_line": etat_reading.sees_every_line(access),
        "lines": etat_reading.lines_for(access, [etat.id])[etat.id] if etat.validated_at else [],
        "today": marche_ops.today(utcnow()),
    }


def current_rights_allow_change() -> bool:
    return g.rights.get("travaux") == "modification" if g.get("rights") is not None else False


def _render_show(access, etat, status: int = 200, error: OperationError | None = None, reason: str = "",
                 dg_form: dict | None = None):
    result, refusal, pdms = ops.result_of(access.marche, etat)
    whole, mine = ops.sees_whole(access), ops.own_keys(access)
    penalties = [p for p in ops.penalties_for(etat) if whole or p.party_id in mine]
    editable = ops.is_moe(access) and etat.status == "draft"
    beneficiaries = []
    if editable:
        from chorus_chain.operations import money as adapter

        beneficiaries = adapter.beneficiaries_of(access.marche, check=False)
    return render_template(
        "etats/show.html", access=access, marche=access.marche, etat=etat,
        result=ops.visible_result(result, access), refusal=refusal, error=error,
        pdms=ops.visible_pdms(pdms, access), penalties=penalties,
        editable=editable, beneficiaries=beneficiaries, whole=whole, ROLE_LABELS=ROLE_LABELS,
        extras=ops.EXTRAS, extra_labels=ops.EXTRA_LABELS, names={row.id: row.name for row in access.rows},
        etat_circuit=_circuit(access, etat), reason=reason,
        dg_view=dg_reading.view_for(access, etat, can_change=current_rights_allow_change(), now=utcnow()),
        dg_form=dg_form or {},
    ), status


@bp.get("/<int:etat_id>")
@require_right(*VIEW)
def show(marche_id: int, etat_id: int):
    access = _access(marche_id)
    return _render_show(access, _etat(access, etat_id))


def _change(marche_id: int, etat_id: int, change, done: str):
    """Run one MOE change on the draft; re-render with the French refusal (422: nothing kept) or come back."""
    access = _access(marche_id)
    etat = _etat(access, etat_id)
    try:
        change(access, etat)
    except OperationError as error:
        return _render_show(access, etat, 422, error)
    flash(done, "success")
    return redirect(url_for("etats.show", marche_id=marche_id, etat_id=etat_id))


@bp.post("/<int:etat_id>/lignes")
@require_right(*CHANGE)
def admit_line(marche_id: int, etat_id: int):
    form = request.form
    as_claimed = form.get("as_claimed") == "1"
    return _change(marche_id, etat_id, lambda access, etat: ops.admit_line(
        access, etat, form.get("line_id"), quantity=form.get("quantity"), percent=form.get("percent"),
        amount=form.get("amount"), comment=form.get("comment"), as_claimed=as_claimed),
        "Ligne admise telle que demandée." if as_claimed else "Correction enregistrée.")


@bp.post("/<int:etat_id>/autres-montants")
@require_right(*CHANGE)
def admit_extras(marche_id: int, etat_id: int):
    form = request.form
    return _change(marche_id, etat_id, lambda access, etat: ops.admit_extras(
        access, etat, form.get("decompte_id"), {name: form.get(name) for name in ops.EXTRAS}),
        "Montants admis enregistrés.")


@bp.post("/<int:etat_id>/penalites")
@require_right(*CHANGE)
def add_penalty(marche_id: int, etat_id: int):
    form = request.form
    return _change(marche_id, etat_id, lambda access, etat: ops.add_penalty(
        access, etat, current_user, party_id=form.get("party_id"), label=form.get("label"), days=form.get("days"),
        amount=form.get("amount")), "Pénalité ajoutée.")


@bp.post("/<int:etat_id>/penalites/retirer")
@require_right(*CHANGE)
def remove_penalty(marche_id: int, etat_id: int):
    return _change(marche_id, etat_id, lambda access, etat: ops.remove_penalty(
        access, etat, request.form.get("penalty_id")), "Pénalité retirée.")


@bp.post("/<int:etat_id>/emettre")
@require_right(*CHANGE)
def issue(marche_id: int, etat_id: int):
    access = _access(marche_id)
    etat = _etat(access, etat_id)
    try:
        ops.issue(access, etat_id, current_user, g.structure, now=utcnow())
    except OperationError as error:
        return _render_show(access, etat, 422, error)
    flash(f"État d'acompte n° {etat.label} émis : il part au maître d'ouvrage comme une pièce (A15), avec ses "
          "projets de décompte.", "success")
    return redirect(url_for("etats.show", marche_id=marche_id, etat_id=etat_id))


# ---------------------------------------------------------------------------------------------------------------------
# The MOA's decision and the paying office's lines (issue 12)


@bp.post("/<int:etat_id>/valider")
@require_right(*CHANGE)
def validate(marche_id: int, etat_id: int):
    access = _access(marche_id)
    etat = _etat(access, etat_id)
    try:
        moa_ops.validate(access, etat_id, current_user, g.structure, now=utcnow())
    except OperationError as error:
        return _render_show(access, etat, 422, error)
    flash(f"État d'acompte n° {etat.label} validé : l'état validé (A19) part au service financier, qui paie chaque "
          "ligne.", "success")
    return redirect(url_for("etats.show", marche_id=marche_id, etat_id=etat_id))


@bp.post("/<int:etat_id>/renvoyer")
@require_right(*CHANGE)
def return_etat(marche_id: int, etat_id: int):
    access = _access(marche_id)
    etat = _etat(access, etat_id)
    reason = request.form.get("reason", "")
    try:
        again = moa_ops.return_etat(access, etat_id, current_user, g.structure, reason, now=utcnow())
    except OperationError as error:
        return _render_show(access, etat, 422, error, reason=reason)
    flash(f"État d'acompte n° {etat.label} renvoyé au maître d'œuvre : il l'émettra de nouveau sous le "
          f"n° {again.label}.", "success")
    return redirect(url_for("etats.show", marche_id=marche_id, etat_id=etat_id))


PAYING_STEPS = {
    "service_fait": (paying.record_service_fait, "Service fait constaté"),
    "mandat": (paying.record_mandat, "Mandatement enregistré"),
}


@bp.post("/<int:etat_id>/lignes-a-payer/<int:line_id>")
@require_right(*CHANGE)
def pay_line(marche_id: int, etat_id: int, line_id: int):
    access = _access(marche_id)
    etat = _etat(access, etat_id)
    form = request.form
    step = form.get("step", "")
    try:
        if step in PAYING_STEPS:
            operation, done = PAYING_STEPS[step]
            line = operation(access, etat_id, line_id, current_user, g.structure, form.get("day"), now=utcnow())
            message = f"{done} pour la ligne de {line.name}."
        elif step == "paiement":
            payment = paying.record_payment(access, etat_id, line_id, current_user, g.structure,
                                            amount=form.get("amount"), paid_on=form.get("day"), now=utcnow())
            late = f" Paiement en retard : {money(payment.interest + payment.flat_fee)} d'intérêts moratoires et " \
                   "d'indemnité forfaitaire dus." if payment.days_late > 0 else ""
            message = f"Paiement de {money(payment.amount)} enregistré.{late}"
            if payment.days_late > 0:
                message += (" L'acheteur les paie dans les 45 jours, au plus tard le "
                            f"{day(payment.interest_last_day)}.")
        elif step == "interets":
            payment = interets_paying.record_interest_paid(access, etat_id, line_id, form.get("payment_id"),
                                                           current_user, g.structure, form.get("day"), now=utcnow())
            message = f"Paiement des intérêts moratoires enregistré : {interets_paying.amount_text(payment)}."
        else:
            abort(400)
    except OperationError as error:
        return _render_show(access, etat, 422, error)
    flash(message, "success")
    return redirect(url_for("etats.show", marche_id=marche_id, etat_id=etat_id, _anchor=f"line-{line_id}"))


def _render_indices(access, status: int = 200, error: OperationError | None = None, form: dict | None = None):
    return render_template("etats/indices.html", access=access, marche=access.marche,
                           values=ops.index_values(access.marche), is_moe=ops.is_moe(access), error=error,
                           form=form or {}), status


@bp.get("/indices")
@require_right(*VIEW)
def indices(marche_id: int):
    return _render_indices(_access(marche_id))


@bp.post("/indices")
@require_right(*CHANGE)
def set_index(marche_id: int):
    access = _access(marche_id)
    form = request.form
    try:
        row = ops.set_index_value(access, current_user, g.structure, form.get("month"), form.get("value"),
                                  form.get("definitive") == "1", now=utcnow())
    except OperationError as error:
        return _render_indices(access, 422, error, dict(form))
    flash(f"Indice {access.marche.revision_index} de {row.month} enregistré "
          f"({'définitif' if row.definitive else 'provisoire'}).", "success")
    return redirect(url_for("etats.indices", marche_id=marche_id))
