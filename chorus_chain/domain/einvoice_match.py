"""An e-invoice read from a file (documents.einvoice_in.ReadInvoice) against the piece a company is about to send.

Why: the file is the legal original. If the form says 1 250,00 € and the embedded Factur-X XML says 1 200,00 €, the
buyer's system reads the XML and the piece comes back "à recycler" — or worse, gets paid on the wrong figure. So every
value the file carries and the form also holds must agree before sending (CHORUS.md §8). A value the file does not
carry is not compared: it is reported as missing when the file is imported, and the form's value stands.

Pure: plain values in, French sentences out. Amounts are Decimals compared to the cent; numbers as Chorus Pro keys
them (case ignored, `domain.numbering.number_key`); SIRETs and references after trimming spaces.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from chorus_chain.domain.amounts import format_fr


@dataclass(frozen=True)
class PieceFacts:
    """What the form (or the saved draft) says, in the terms the file can be compared with."""

    number: str | None
    piece_type: str | None
    issue_date: date | None
    montant_ht: Decimal | None
    montant_tva: Decimal | None
    montant_ttc: Decimal | None
    autoliquidation: bool
    emitter_siret: str | None
    recipient_siret: str | None
    service_code: str | None
    engagement_number: str | None
    marche_reference: str | None


@dataclass(frozen=True)
class Mismatch:
    """One disagreement: a French sentence and the form field to correct (None: the file itself is wrong)."""

    message_fr: str
    field: str | None


def _day(value: date) -> str:
    return value.strftime("%d/%m/%Y")


def _key(value: str | None) -> str:
    return "".join((value or "").split()).upper()


PIECE_TYPE_LABELS = {"FACTURE": "une facture", "AVOIR": "un avoir"}


def compare(read: Any, facts: PieceFacts) -> list[Mismatch]:
    """Every value present in both `read` (a ReadInvoice) and `facts` that differs, in the order of the form."""
    found: list[Mismatch] = []

    def text(read_value: str | None, form_value: str | None, label: str, field: str | None, *,
             where: str = "du formulaire") -> None:
        if read_value and _key(read_value) != _key(form_value):
            shown = f"« {form_value} »" if form_value else "vide"
            found.append(Mismatch(f"{label} du fichier (« {read_value} ») diffère de celui {where} ({shown}).",
                                  field))

    text(read.number, facts.number, "Le numéro de facture", "number")
    if read.invoice_type and facts.piece_type and read.invoice_type != facts.piece_type:
        found.append(Mismatch(
            f"Le fichier est {PIECE_TYPE_LABELS.get(read.invoice_type, read.invoice_type)}, le formulaire "
            f"{PIECE_TYPE_LABELS.get(facts.piece_type, facts.piece_type)}.", "piece_type"))
    if read.issue_date and read.issue_date != facts.issue_date:
        shown = _day(facts.issue_date) if facts.issue_date else "vide"
        found.append(Mismatch(f"La date d'émission du fichier ({_day(read.issue_date)}) diffère de celle du "
                              f"formulaire ({shown}).", "issue_date"))
    for attribute, field, label in (("total_ht", "montant_ht", "Le montant HT"),
                                    ("total_tva", "montant_tva", "Le montant de TVA"),
                                    ("total_ttc", "montant_ttc", "Le montant TTC")):
        in_file, in_form = getattr(read, attribute), getattr(facts, field)
        if in_file is not None and in_file != in_form:
            shown = format_fr(in_form) if in_form is not None else "vide"
            found.append(Mismatch(f"{label} du fichier ({format_fr(in_file)}) diffère de celui du formulaire "
                                  f"({shown}).", field))
    if read.vat_breakdown and read.autoliquidation != facts.autoliquidation:
        found.append(Mismatch(
            "Le fichier est en autoliquidation (TVA catégorie AE) mais pas le formulaire." if read.autoliquidation
            else "Le formulaire est en autoliquidation mais le fichier porte une TVA (catégorie autre que AE).",
            "vat_regime"))
    if read.seller.siret and read.seller.siret != facts.emitter_siret:
        found.append(Mismatch(
            f"Le vendeur du fichier (SIRET {read.seller.siret}) n'est pas votre structure (SIRET "
            f"{facts.emitter_siret}) : déposez une facture émise par votre structure.", None))
    text(read.buyer.siret, facts.recipient_siret, "Le SIRET de l'acheteur", "recipient_siret")
    text(read.service_code, facts.service_code, "Le code service (BT-10)", "service_code")
    text(read.purchase_order, facts.engagement_number, "Le numéro d'engagement (BT-13)", "engagement_number")
    text(read.contract_reference, facts.marche_reference, "Le numéro de marché (BT-12)", None,
         where="du marché de la pièce")
    return found


def form_values(read: Any) -> dict[str, str]:
    """The draft form's fields that the file fills (the others keep the marché's defaults): number, nature, issue
    date, the three amounts (written with a dot, as the form accepts), the VAT regime, and the routing data."""
    values: dict[str, str] = {}
    if read.number:
        values["number"] = read.number
    if read.invoice_type:
        values["piece_type"] = read.invoice_type
    if read.issue_date:
        values["issue_date"] = read.issue_date.isoformat()
    for attribute, field in (("total_ht", "montant_ht"), ("total_tva", "montant_tva"), ("total_ttc", "montant_ttc")):
        if getattr(read, attribute) is not None:
            values[field] = f"{getattr(read, attribute):.2f}"
    if read.vat_breakdown:
        values["vat_regime"] = "autoliquidation" if read.autoliquidation else "normal"
    if read.buyer.siret:
        values["recipient_siret"] = read.buyer.siret
    if read.service_code:
        values["service_code"] = read.service_code
    if read.purchase_order:
        values["engagement_number"] = read.purchase_order
    return values
