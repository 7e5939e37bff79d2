"""The états part of the marché export v2 (docs/contracts/marche-export.md, « etats » and « dgd »): each état the
MOE issued, with the pieces that carry it (A15, A19 and, for the final état, A17 / A20 / A8) and the projets de
décompte it covered; the payable lines of a validated état with their payments and the late-payment interest of each
payment; the reconciliation of the décompte général.

Every figure is a frozen one: the engine's result stored on the état when it was issued (`EtatAcompte.result`), the
lines written from it at validation, the payments and their interest as the paying office recorded them (the engine
computed the interest then). Nothing is recomputed here; the only sums are of recorded payments (what was paid).

Tenancy: a piece is named only when the reader sees it (the caller passes the numbers of the pieces it sees, read
through `access.visible_to`); a reader that is not on the public side nor the holder reads its own lines only, as on
the état page (`etat_pieces.reading`). `reader_id` None is the operator's command line (`system_access`).
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from chorus_chain.extensions import db
from chorus_chain.models import Marche, MarcheParty
from chorus_chain.models.decompte_general import DecompteGeneral
from chorus_chain.models.etat_pieces import EtatAcomptePdm, LinePayment, PayableLine
from chorus_chain.models.money import EtatAcompte
from chorus_chain.operations.etat_pieces.reading import FULL_VIEW_ROLES

ZERO = Decimal("0.00")


def _amount(value: Decimal | str | None) -> str | None:
    if value is None:
        return None
    return f"{Decimal(value).quantize(Decimal('0.01')):f}"


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _instant(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def reader_party_ids(rows: list[MarcheParty], reader_id: int | None) -> set[int] | None:
    """The party rows whose lines the reader reads: None for every line (the public side, the holder, the operator),
    else its own rows."""
    if reader_id is None:
        return None
    own = [row for row in rows if row.structure_id == reader_id]
    if any(row.role in FULL_VIEW_ROLES for row in own):
        return None
    return {row.id for row in own}


def etats(marche: Marche, rows: list[MarcheParty], reader_id: int | None, numbers: dict[int, str]
          ) -> tuple[list[dict[str, Any]], dict[int, list[dict[str, str]]]]:
    """(the `etats` of the export, piece id → the `etats` links of that piece). `numbers`: piece id → number of the
    pieces the reader sees."""
    sirets = {row.id: row.siret for row in rows}
    only = reader_party_ids(rows, reader_id)
    found = list(db.session.scalars(select(EtatAcompte).where(
        EtatAcompte.marche_id == marche.id, EtatAcompte.status != "draft")
        .order_by(EtatAcompte.number, EtatAcompte.suffix)))
    ids = [etat.id for etat in found]
    links: dict[int, list[int]] = defaultdict(list)
    lines: dict[int, list[PayableLine]] = defaultdict(list)
    payments: dict[int, list[LinePayment]] = defaultdict(list)
    generals: dict[int, DecompteGeneral] = {}
    if ids:
        for link in db.session.scalars(select(EtatAcomptePdm).where(EtatAcomptePdm.etat_acompte_id.in_(ids))
                                       .order_by(EtatAcomptePdm.piece_id)):
            links[link.etat_acompte_id].append(link.piece_id)
        query = select(PayableLine).where(PayableLine.etat_acompte_id.in_(ids))
        if only is not None:
            query = query.where(PayableLine.payee_party_id.in_(only or {0}))
        for line in db.session.scalars(query.order_by(PayableLine.position)):
            lines[line.etat_acompte_id].append(line)
        line_ids = [line.id for group in lines.values() for line in group]
        if line_ids:
            for payment in db.session.scalars(select(LinePayment).where(LinePayment.line_id.in_(line_ids))
                                              .order_by(LinePayment.paid_on, LinePayment.id)):
                payments[payment.line_id].append(payment)
        generals = {row.etat_acompte_id: row for row in db.session.scalars(
            select(DecompteGeneral).where(DecompteGeneral.etat_acompte_id.in_(ids)))}
    by_piece: dict[int, list[dict[str, str]]] = defaultdict(list)
    exported = []
    for etat in found:
        general = generals.get(etat.id)
        documents = {"a15": etat.piece_id, "a19": etat.validated_piece_id}
        if general is not None:
            documents.update(a17=general.pdg_piece_id, a20=general.dg_piece_id, a8=general.dgd_piece_id)
        for link, piece_id in documents.items():
            if piece_id in numbers:
                by_piece[piece_id].append({"etat": etat.label, "link": link})
        for piece_id in links[etat.id]:
            if piece_id in numbers:
                by_piece[piece_id].append({"etat": etat.label, "link": "pdm"})
        result = etat.result or {}
        exported.append({
            "number": etat.label,
            "month": etat.month,
            "final": etat.final,
            "status": etat.status,
            "issued_at": _instant(etat.issued_at),
            "validated_at": _instant(etat.validated_at),
            "returned_at": _instant(etat.returned_at),
            "return_reason": etat.return_reason,
            "replaces": next((e.label for e in found if e.id == etat.replaces_id), None),
            "amount_due": _amount(result["marche"]["amount_due"]["this"]) if only is None and result else None,
            # issue 16: the marché's amount still to execute after the état, HT (null: frozen before it existed)
            "remaining_ht": _amount(result["remaining"]["value"]) if only is None and result.get("remaining")
            else None,
            "pieces": {link: numbers.get(piece_id) for link, piece_id in documents.items()},
            "pdms": [numbers[piece_id] for piece_id in links[etat.id] if piece_id in numbers],
            "lines": [_line(line, payments[line.id], sirets) for line in lines[etat.id]],
        })
    return exported, by_piece


def _line(line: PayableLine, payments: list[LinePayment], sirets: dict[int, str]) -> dict[str, Any]:
    return {
        "payee_siret": sirets.get(line.payee_party_id),
        "name": line.name,
        "role": line.role,
        "amount": _amount(line.amount),
        "dgp_started_on": _day(line.dgp_started_on),
        "due_on": _day(line.due_on),
        "service_fait_on": _day(line.service_fait_on),
        "mandated_on": _day(line.mandated_on),
        "paid_amount": _amount(line.paid_amount),
        "paid_on": _day(line.paid_on),
        "payments": [{
            "paid_on": _day(p.paid_on),
            "amount": _amount(p.amount),
            "days_late": p.days_late,
            "rate_percent": None if p.rate_percent is None else f"{p.rate_percent:.3f}",
            "interest": _amount(p.interest),
            "flat_fee": _amount(p.flat_fee),
        } for p in payments],
    }


def dgd(marche: Marche, rows: list[MarcheParty], reader_id: int | None) -> dict[str, Any] | None:
    """The décompte général's reconciliation, once the final état is issued: what the engine's frozen DGD says per
    beneficiary (montant, avance, acomptes, solde, retenue), and per payee what it was owed to date by the final état
    beside the sum of what the paying office recorded as paid on its lines of every validated état (and the interest
    and flat fees paid with them). Null for a reader that is not on the public side nor the holder."""
    if reader_party_ids(rows, reader_id) is not None:
        return None
    final = db.session.scalar(select(EtatAcompte).where(
        EtatAcompte.marche_id == marche.id, EtatAcompte.final.is_(True), EtatAcompte.status == "issued"))
    if final is None or not final.result or "dgd" not in final.result:
        return None
    result = final.result
    sirets = {row.id: row.siret for row in rows}
    payee_of = {b["key"]: b["payee_key"] for b in result["beneficiaries"]}
    paid: dict[int, dict[str, Decimal]] = defaultdict(lambda: {"paid": ZERO, "interest": ZERO, "flat_fees": ZERO})
    for payee, amount, interest, flat_fee in db.session.execute(
            select(PayableLine.payee_party_id, LinePayment.amount, LinePayment.interest, LinePayment.flat_fee)
            .join(LinePayment, LinePayment.line_id == PayableLine.id)
            .join(EtatAcompte, EtatAcompte.id == PayableLine.etat_acompte_id)
            .where(PayableLine.marche_id == marche.id, EtatAcompte.status == "issued")):
        paid[payee]["paid"] += amount
        paid[payee]["interest"] += interest
        paid[payee]["flat_fees"] += flat_fee
    general = db.session.scalar(select(DecompteGeneral).where(DecompteGeneral.etat_acompte_id == final.id))

    def figures(b: dict) -> dict[str, Any]:
        return {name: _amount(b[name]) for name in ("montant_dgd", "avance", "acomptes", "solde", "retenue")}

    payees = []
    for payable in result["payables"]:
        key = payable["payee_key"]
        owed = Decimal(payable["to_date"])
        done = paid[key]
        payees.append({"siret": sirets.get(key), "name": payable["name"], "owed_to_date": _amount(owed),
                       "paid": _amount(done["paid"]), "reconciled": done["paid"] == owed,
                       "interest": _amount(done["interest"]), "flat_fees": _amount(done["flat_fees"])})
    return {
        "etat": final.label,
        "reception": result.get("reception"),
        "retenue_release_date": result.get("retenue_release_date"),
        "signature": general.signature if general is not None else None,
        "claimed_amount": _amount(general.claimed_amount) if general is not None else None,
        "marche": figures(result["dgd"]["marche"]),
        "beneficiaries": [{"siret": sirets.get(b["key"]), "name": b["name"],
                           "payee_siret": sirets.get(payee_of.get(b["key"])), **figures(b)}
                          for b in result["dgd"]["beneficiaries"]],
        "payees": payees,
    }
