"""From the database's rows to the documents' dataclasses: a piece → its invoice / credit note / projet de décompte,
its attestation of tacit acceptance, the letter claiming its late-payment interest; a marché → its fiche d'identité;
an issued état d'acompte → its PDF data (`etat_doc`).

No query here: `operations.documents` loads the rows (under the tenant who asks) and hands them over; these
functions only read attributes and refuse, with `DocumentUnavailable` and a French message the page shows, what
cannot honestly be printed (a piece with no tacit validation has no attestation; a piece paid on time has no
interest to claim).

What a piece's PDF says: the piece as it was deposited (number, dates, amounts, routing, bank account). The database
keeps the totals of a piece, not the lines of the seller's own invoice (the deposited PDF has them): the document
shows one line per piece — the month of works for a projet de décompte — at the one VAT rate its amounts prove. A
piece whose VAT is not the VAT of one rate (several rates mixed) is refused rather than printed with an invented
split: its original file is the document to show.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from stdnum import bic as stdnum_bic
from stdnum import iban as stdnum_iban

from chorus_chain import formatting
from chorus_chain.documents.model import (
    Address,
    AttestationTacitDoc,
    DocumentDataError,
    FicheMarcheDoc,
    FicheParty,
    FicheRoute,
    InterestClaimDoc,
    InterestLine,
    InvoiceDoc,
    InvoiceLine,
    InvoiceType,
    Party,
    VatRegime,
)
from chorus_chain.domain import commercial_terms as commercial
from chorus_chain.domain.amounts import ZERO, round_cent
from chorus_chain.domain.cadres import CADRES, DECOMPTE_CADRES
from chorus_chain.graph import ROLE_LABELS

# The VAT rates tried, in order, after the marché's own rate (France: normal, intermediate, reduced, DOM, special).
FRENCH_VAT_RATES = (Decimal("20"), Decimal("10"), Decimal("5.5"), Decimal("8.5"), Decimal("2.1"), Decimal("0"))
MISSING_CITY = "(adresse non renseignée)"
KIND_LABELS = {"travaux": "Travaux", "services": "Services", "fournitures": "Fournitures"}


class DocumentUnavailable(Exception):
    """This document cannot be made for this piece or marché; `message` says why, in French, for the page."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# ---------------------------------------------------------------------------------------------------------------------
# Parties


def address_of(structure: Any | None) -> Address:
    """A structure's postal address (one street line); a structure that never gave one is printed as such."""
    if structure is None:
        return Address((), "", MISSING_CITY)
    line = (structure.address_line or "").strip()
    return Address((line,) if line else (), (structure.postal_code or "").strip(),
                   (structure.city or "").strip() or MISSING_CITY)


def party_of(structure: Any | None, *, name: str | None = None, siret: str | None = None) -> Party:
    """A Party from a Structure row, or from a marché party's name and SIRET when the company has no structure yet.

    A company's legal identity (form, capital, RCS / RM) goes with it: every document prints it under the name
    (C. com. R. 123-237 asks it on invoices and letters alike). A public body prints none: it is not registered at
    the RCS, and "Collectivité territoriale" under "Commune d'Angers" says nothing the name does not."""
    company = structure is not None and not structure.is_public
    try:
        return Party(name=(structure.name if structure is not None else name) or "",
                     siret=structure.siret if structure is not None else (siret or ""),
                     address=address_of(structure),
                     vat_number=(structure.vat_number or None) if structure is not None else None,
                     legal_form=(structure.legal_form or None) if company else None,
                     share_capital=structure.share_capital if company else None,
                     registration=(structure.registration or None) if company else None)
    except DocumentDataError:
        who = structure.name if structure is not None else name
        raise DocumentUnavailable(f"L'identité de {who or 'une partie'} est incomplète ou son SIRET n'est pas "
                                  "valide : le document ne peut pas être établi.") from None


# ---------------------------------------------------------------------------------------------------------------------
# Invoices, credit notes, projets de décompte


def is_invoice_like(piece: Any) -> bool:
    """An invoice or a credit note in the EN 16931 sense (what Factur-X carries): a private invoice (no cadre), a
    cadre of kind "facture", or any credit note. Projets de décompte and décomptes are works documents."""
    return piece.piece_type == "AVOIR" or piece.cadre is None or CADRES[piece.cadre].kind == "facture"


def is_decompte(piece: Any) -> bool:
    """A projet de décompte (mensuel A4 / A10 / A13, final A7 / A14): its document is a décompte, not an invoice."""
    return piece.piece_type != "AVOIR" and piece.cadre is not None and piece.cadre in DECOMPTE_CADRES


def piece_label(piece: Any) -> str:
    """What the piece is, in French: "Facture", "Avoir", "Projet de décompte mensuel"…"""
    if piece.piece_type == "AVOIR":
        return "Avoir"
    if piece.cadre is None:
        return "Facture"
    return CADRES[piece.cadre].label


def vat_percent_of(ht: Decimal, tva: Decimal, marche_rate: Decimal | None) -> Decimal:
    """The one VAT rate (a percentage) whose tax on `ht`, rounded half-up to the cent, is `tva`: the marché's rate
    first, then the French rates. DocumentUnavailable when no single rate gives it."""
    candidates = ([marche_rate] if marche_rate is not None else []) + list(FRENCH_VAT_RATES)
    for rate in candidates:
        if round_cent(ht * rate / 100) == tva:
            return rate.normalize() if rate else Decimal("0")
    raise DocumentUnavailable(
        f"La TVA de la pièce ({formatting.money(tva)} pour {formatting.money(ht)} HT) ne correspond à aucun taux "
        "unique : le document ne peut pas en détailler les bases. Le fichier déposé fait foi.")


def _month_end(month: str) -> date:
    year, number = (int(part) for part in month.split("-"))
    return date(year, number, calendar.monthrange(year, number)[1])


def _month_label(month: str) -> str:
    year, number = (int(part) for part in month.split("-"))
    return formatting.day(date(year, number, 1), "MMMM y")


def invoice_of(piece: Any, *, marche: Any, seller: Any, buyer: Party, bank_account: Any | None = None,
               original: Any | None = None, decompte_month: str | None = None,
               shows_bank: bool = True, commercial_term: commercial.Term | None = None) -> InvoiceDoc:
    """The invoice / credit note / projet de décompte of a deposited piece (see the module docstring).

    `commercial_term`: a private invoice's payment term agreed by its emitter with its contractor (None: the legal
    30 days of L. 441-10).

    `shows_bank` False: the viewer's page masks the bank account (`access.sees_bank_details`), so the document
    prints the masked IBAN only and its Factur-X XML carries no payment account at all."""
    if piece.is_draft:
        raise DocumentUnavailable("Un brouillon n'a pas de document : envoyez d'abord la pièce.")
    autoliquidation = piece.vat_regime == "autoliquidation"
    ht, tva = piece.montant_ht, piece.montant_tva
    percent = Decimal("0") if autoliquidation else vat_percent_of(ht, tva, marche.tva_rate)
    label = piece_label(piece)
    if decompte_month:
        designation = f"{label} — travaux de {_month_label(decompte_month)} (marché {marche.reference})"
    else:
        designation = f"{label} — marché {marche.reference} : {marche.objet}"
    line = InvoiceLine(designation[:300], Decimal("1"), "LS", ht, percent, ht)
    credit = piece.piece_type == "AVOIR"
    if credit and original is None:
        raise DocumentUnavailable("Cet avoir ne désigne pas la facture qu'il annule : il ne peut pas être imprimé.")
    iban = bic = iban_masked = None
    if bank_account is not None and stdnum_iban.is_valid(bank_account.iban):
        if shows_bank:
            iban = bank_account.iban
            bic = bank_account.bic if bank_account.bic and stdnum_bic.is_valid(bank_account.bic) else None
        else:
            iban_masked = bank_account.iban_masked
    dgp = marche.dgp_days
    transfer = piece.payment_mode == "virement"
    if piece.cadre is None:  # between companies: the code de commerce, never the public buyer's rules
        term = commercial_term or commercial.Term()  # agreed with its contractor, or the legal 30 days
        terms = dict(due_date=term.due(piece.issue_date),
                     payment_terms=term.mention(transfer=transfer),
                     late_penalty_terms=commercial.LATE_PENALTY_MENTION, flat_fee_terms=commercial.FLAT_FEE_MENTION)
    else:
        terms = dict(due_date=piece.issue_date + timedelta(days=dgp),
                     payment_terms=(f"{'Virement' if transfer else 'Paiement'} à {dgp} jours à compter de la "
                                    "réception de la demande de paiement (délai global de paiement)"))
    return InvoiceDoc(
        number=piece.number,
        invoice_type=InvoiceType.AVOIR if credit else InvoiceType.FACTURE,
        issue_date=piece.issue_date,
        seller=party_of(seller),
        buyer=buyer,
        marche_reference=marche.reference,
        service_code=piece.service_code or None,
        engagement_number=piece.engagement_number or None,
        lines=(line,),
        total_ht=ht,
        total_tva=tva,
        total_ttc=piece.montant_ttc,
        vat_regime=VatRegime.AUTOLIQUIDATION if autoliquidation else VatRegime.NORMAL,
        iban=iban,
        bic=bic,
        iban_masked=iban_masked,
        original_invoice_number=original.number if credit else None,
        original_invoice_date=original.issue_date if credit else None,
        delivery_date=_month_end(decompte_month) if decompte_month else None,
        cadre=piece.cadre,
        **terms,
    )


# ---------------------------------------------------------------------------------------------------------------------
# Attestation of tacit acceptance


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def tacit_attestation_of(piece: Any, *, marche: Any, emitter: Party, validator: Party, started_at: datetime,
                         due_at: datetime, attested_on: date) -> AttestationTacitDoc:
    """The attestation of a piece that a validator let through by its silence: the clock's start (the piece's
    arrival at the validator) and its end (start + 15 days) are the dates that prove it."""
    start, end = _aware(started_at), _aware(due_at)
    days = (end - start).days
    if end - start != timedelta(days=days) or days <= 0:
        raise DocumentUnavailable("Le délai de validation de cette pièce n'est pas un nombre entier de jours : "
                                  "l'attestation ne peut pas être établie.")
    return AttestationTacitDoc(
        piece_number=piece.number, piece_label=piece_label(piece), marche_reference=marche.reference,
        emitter=emitter, validator=validator, deposit_date=start, deadline_date=end,
        attested_on=max(attested_on, end.astimezone(formatting.PARIS).date()), silence_days=days,
        amount_ttc=piece.montant_ttc,
    )


# ---------------------------------------------------------------------------------------------------------------------
# Letter claiming late-payment interest


def interest_claim_of(piece: Any, *, marche: Any, creditor: Party, debtor: Party, late: Any,
                      letter_date: date) -> InterestClaimDoc:
    """The letter claiming the interest of one piece paid late. `late` is the engine's `LatePaymentInterest` (or
    an object with the same attributes: expiry, payment, days, rate_percent, interest, flat_fee, base)."""
    if not getattr(late, "days", 0) or late.days <= 0 or late.interest is None:
        raise DocumentUnavailable("Cette pièce a été payée dans le délai : il n'y a pas d'intérêts moratoires à "
                                  "réclamer.")
    line = InterestLine(piece_number=piece.number, base_ttc=late.base, due_date=late.expiry,
                        payment_date=late.payment, days_late=late.days, rate_percent=late.rate_percent,
                        interest=late.interest, fee=late.flat_fee)
    return InterestClaimDoc(
        number=f"IM-{piece.number}", creditor=creditor, debtor=debtor, marche_reference=marche.reference,
        letter_date=letter_date, lines=(line,), total_interest=line.interest, total_fees=line.fee,
        total_claimed=line.interest + line.fee,
    )


# ---------------------------------------------------------------------------------------------------------------------
# Fiche d'identité du marché


def _percent_text(value: Decimal) -> str:
    return formatting.number(value, 2).replace(",00", "") + "\u00a0%"


def fiche_of(marche: Any, *, issuer: Party, rows: Iterable[Any], sheet: Sequence[dict[str, Any]],
             edited_on: date, amounts: set[int] | None = None) -> FicheMarcheDoc:
    """The fiche d'identité of a marché as the issuing structure sees it: the parties it may see (`rows`), with the
    amounts of those in `amounts` only (None: every amount; see `operations.chain.amount_keys`), the routes of
    `operations.marches.identity_sheet` and the marché's money settings."""
    parties = []
    for row in rows:
        detail = []
        if row.status == "invited":
            detail.append("invitée, pas encore confirmée")
        if row.role == "paying_office" and row.service_code:
            detail.append(f"code service {row.service_code}")
        if row.dc4_status in ("accepted", "tacit"):
            detail.append("DC4 accepté" + (" tacitement" if row.dc4_status == "tacit" else ""))
        amount = row.montant_ttc if amounts is None or row.id in amounts else None
        parties.append(FicheParty(ROLE_LABELS.get(row.role, row.role), row.name, row.siret, " ; ".join(detail),
                                  amount))
    routes = []
    for entry in sheet:
        if entry.get("problem"):
            steps: tuple[str, ...] = (f"incomplet : {entry['problem']}",)
        else:
            steps = tuple(f"{s['role_label']} ({s['row'].name})" if s.get("row") is not None else s["role_label"]
                          for s in entry["steps"])
        routes.append(FicheRoute(entry["cadre"] or "—", f"{entry['cadre_label']} — {entry['row'].name}", steps))
    facts = [("Délai global de paiement", f"{marche.dgp_days} jours"),
             ("Retenue de garantie", "remplacée par une garantie" if marche.retenue_replaced_by_guarantee
              else _percent_text(marche.retenue_rate)),
             ("Avance", _percent_text(marche.avance_rate)),
             ("Taux de TVA", _percent_text(marche.tva_rate)),
             ("Durée", f"{marche.duration_months} mois")]
    if marche.engagement_number:
        facts.append(("N° d'engagement juridique", marche.engagement_number))
    if marche.paying_service_code:
        facts.append(("Code service payeur", marche.paying_service_code))
    return FicheMarcheDoc(
        reference=marche.reference, objet=marche.objet, issuer=issuer, edited_on=edited_on,
        parties=tuple(parties), routes=tuple(routes), kind=KIND_LABELS.get(marche.kind, marche.kind),
        amount_ht=marche.montant_ht, facts=tuple(facts),
    )


__all__ = [
    "DocumentUnavailable",
    "ZERO",
    "address_of",
    "fiche_of",
    "interest_claim_of",
    "invoice_of",
    "is_decompte",
    "is_invoice_like",
    "party_of",
    "piece_label",
    "tacit_attestation_of",
    "vat_percent_of",
]
