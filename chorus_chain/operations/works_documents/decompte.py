"""A projet de décompte's document (`documents.decompte_doc.DecompteDoc`) from its rows.

The lines are the décompte as deposited: each stored `DecompteLine` (its claimed cumul, rounded once when it was
saved) against the same party's previous décompte, the lines of its part that it left untouched carrying the previous
cumul. The claim is valued by the engine's own `pdm_amount` and must give the montant HT of the piece as deposited:
a décompte changed since (it cannot be, once sent) or a piece deposited with an amount and no décompte is printed
without inventing anything — in the first case refused with the reason, in the second with its totals only.

The figures of the état d'acompte (revision, retenue, advance repayment, amount due) are those of the issued état
that includes the décompte, for the depositor's own beneficiary part, as `etats_acompte.visible_result` lets the
viewer see them — the same masking as the état's page.
"""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from stdnum import iban as stdnum_iban

from chorus_chain import formatting
from chorus_chain.documents import from_pieces
from chorus_chain.documents.decompte_doc import DecompteDoc, DecompteRow, EngineFigure, headings_of
from chorus_chain.documents.from_pieces import DocumentUnavailable
from chorus_chain.domain.money import COLUMNS, MoneyError
from chorus_chain.domain.money import schedule as rules
from chorus_chain.extensions import db
from chorus_chain.models import MarcheParty, Piece, Structure
from chorus_chain.models.money import Decompte, DecompteLine, EtatAcompte, PriceLine

ZERO = Decimal("0.00")


def _lines(decompte: Decompte | None) -> dict[int, DecompteLine]:
    if decompte is None:
        return {}
    return {row.price_line_id: row for row in db.session.scalars(
        select(DecompteLine).where(DecompteLine.decompte_id == decompte.id))}


def _measure(row: DecompteLine | None, line: PriceLine) -> Decimal | None:
    if row is None:
        return None
    value = row.percent if line.lump_sum else row.quantity
    return value if value is not None else (row.quantity if line.lump_sum else row.percent)


def _cumul(decompte: Decompte | None, works: Decimal) -> rules.Cumul:
    extras = {name: (getattr(decompte, name) if decompte is not None else ZERO) for name in rules.EXTRAS}
    return rules.Cumul(works=works, **extras)


def rows_of(decompte: Decompte, previous: Decompte | None, lines: list[PriceLine]) -> list[DecompteRow]:
    """Each price line of the party's part: previous cumul, cumul to date (as stored), with their amounts."""
    own, before = _lines(decompte), _lines(previous)
    rows = []
    for line in lines:
        mine, last = own.get(line.id), before.get(line.id)
        previous_measure = _measure(last, line)
        previous_amount = last.amount_ht if last is not None else ZERO
        if mine is not None:
            measure, amount = _measure(mine, line), mine.amount_ht
        else:  # a line left untouched keeps the previous cumul (decomptes.sheet_for does the same)
            measure, amount = (previous_measure if previous_measure is not None else Decimal("0")), previous_amount
        rows.append(DecompteRow(line.reference, line.designation, line.unit or "", line.lump_sum, previous_measure,
                                measure, previous_amount, amount,
                                (mine.justification or "") if mine is not None else ""))
    return rows


def engine_figures(decompte: Decompte, structure: Structure) -> tuple[str | None, tuple[EngineFigure, ...]]:
    """The issued état that includes the décompte: its title and the columns of the depositor's beneficiary part,
    as the viewer may see them (none when the état is not issued yet or the viewer does not see that part)."""
    from chorus_chain.operations import etats_acompte as etats_ops
    from chorus_chain.operations import marches as marches_ops

    if decompte.etat_acompte_id is None:
        return None, ()
    etat = db.session.get(EtatAcompte, decompte.etat_acompte_id)
    if etat is None or etat.status != "issued" or not etat.result:
        return None, ()
    access = marches_ops.access_for(structure, decompte.marche_id)
    visible = etats_ops.visible_result(etat.result, access) if access is not None and access.confirmed else None
    part = next((b for b in (visible or {}).get("beneficiaries", ()) if b["key"] == decompte.party_id), None)
    if part is None:
        return None, ()
    figures = tuple(EngineFigure(name, part["columns"][name]["label"], Decimal(part["columns"][name]["to_date"]),
                                 Decimal(part["columns"][name]["previous"]), Decimal(part["columns"][name]["this"]))
                    for name in COLUMNS if name in part["columns"])
    title = f"état d'acompte n° {etat.label} ({formatting.month(etat.month)})"
    if etat.issued_at is not None:
        title += f", émis le {formatting.day(etat.issued_at, 'long')}"
    return title, figures


def decompte_doc(piece: Piece, structure: Structure, *, buyer: from_pieces.Party, shows_bank: bool) -> DecompteDoc:
    """The document of a projet de décompte as `structure` sees it (bank details masked as its page masks them)."""
    from chorus_chain.operations import decomptes as decompte_ops

    if piece.is_draft:
        raise DocumentUnavailable("Un brouillon n'a pas de document : envoyez d'abord la pièce.")
    marche = piece.marche
    decompte = db.session.scalar(select(Decompte).where(Decompte.piece_id == piece.id))
    rows: list[DecompteRow] = []
    headings = ()
    etat_title, figures = None, ()
    if decompte is not None:
        party = db.session.get(MarcheParty, decompte.party_id)
        previous = decompte_ops.previous_decompte(party.id, decompte.month, except_piece_id=piece.id)
        rows = rows_of(decompte, previous, decompte_ops.party_lines(marche.id, party))
        try:
            amount = rules.pdm_amount(_cumul(decompte, sum((r.amount for r in rows), ZERO)),
                                      _cumul(previous, sum((r.previous_amount for r in rows), ZERO)))
        except MoneyError as error:
            raise DocumentUnavailable(error.message) from None
        if amount.montant_ht != piece.montant_ht:
            raise DocumentUnavailable(
                f"Le décompte enregistré de cette pièce ({formatting.money(amount.montant_ht)} HT) ne correspond "
                f"plus au montant déposé ({formatting.money(piece.montant_ht)} HT) : le fichier déposé fait foi.")
        headings = headings_of(amount)
        etat_title, figures = engine_figures(decompte, structure)
    account = piece.bank_account
    iban = iban_masked = None
    if account is not None and stdnum_iban.is_valid(account.iban):
        if shows_bank:
            iban = account.iban
        else:
            iban_masked = account.iban_masked
    return DecompteDoc(
        number=piece.number, label=from_pieces.piece_label(piece), cadre=piece.cadre or "",
        issue_date=piece.issue_date, month=decompte.month if decompte is not None else None,
        final=bool(decompte.final) if decompte is not None else False,
        seller=from_pieces.party_of(piece.emitter_structure), buyer=buyer, marche_reference=marche.reference,
        marche_objet=marche.objet, service_code=piece.service_code or None,
        engagement_number=piece.engagement_number or None, rows=tuple(rows), headings=headings,
        montant_ht=piece.montant_ht, montant_tva=piece.montant_tva, montant_ttc=piece.montant_ttc,
        autoliquidation=piece.vat_regime == "autoliquidation", etat_title=etat_title, etat_figures=figures,
        iban=iban, iban_masked=iban_masked)
