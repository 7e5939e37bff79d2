"""The projet de décompte (PDM: A4, A10, A13; final: A7, A14) as a document: not an invoice, a décompte.

What it prints, in the order of a works décompte (CHORUS.md §6):
- each line of the depositor's part of the bordereau: reference, designation, unit, then the cumul executed at the
  previous décompte, to date, and this month — the quantity (or % of a lump-sum line) and its amount HT at base
  prices, each as the depositor claimed it;
- the headings of the claim (travaux, approvisionnements, primes, débours, réfactions): to date / previous / this
  month, and the montant HT, the VAT (or the autoliquidation mention) and the TTC of the piece as deposited;
- once an issued état d'acompte includes the décompte, the figures the money engine computed for its beneficiary
  (works, revision, VAT, retenue de garantie, advance repayment, penalties, amount due), read from the état's frozen
  result and masked as the viewer's page masks them. Before that, the document says the MOE computes them: a
  template never recomputes money (DESIGN.md §3 rule 10).

The dataclasses hold the figures already computed (by `domain.money.schedule` when the décompte was saved, by the
engine when the état was issued); `decompte_doc_of` only arranges them and checks that they add up to what was
deposited (`DocumentUnavailable` otherwise: the deposited file is then the document that holds).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from chorus_chain import formatting
from chorus_chain.documents.model import DocumentDataError, Party
from chorus_chain.domain.money.schedule import HEADINGS, PdmAmount

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class DecompteRow:
    """One line of the bordereau in the décompte: cumul at the previous décompte, to date, this month."""

    reference: str
    designation: str
    unit: str
    """As the bordereau writes it ("m2", "forfait"); a lump-sum line is measured in % of its amount."""
    lump_sum: bool
    previous_measure: Decimal | None
    measure: Decimal
    previous_amount: Decimal
    amount: Decimal
    justification: str = ""

    @property
    def this_measure(self) -> Decimal:
        return self.measure - (self.previous_measure or Decimal("0"))

    @property
    def this_amount(self) -> Decimal:
        return self.amount - self.previous_amount


@dataclass(frozen=True)
class DecompteHeading:
    """One heading of the claim (travaux, approvisionnements…): cumul to date, previous cumul, this month."""

    label: str
    to_date: Decimal
    previous: Decimal
    this: Decimal


@dataclass(frozen=True)
class EngineFigure:
    """One column of the issued état for this décompte's beneficiary (the engine's figure, as frozen)."""

    name: str
    label: str
    to_date: Decimal
    previous: Decimal
    this: Decimal


@dataclass(frozen=True)
class DecompteDoc:
    number: str
    label: str
    """"Projet de décompte mensuel de sous-traitant"…: the piece's cadre label, printed as the heading."""
    cadre: str
    issue_date: date
    month: str | None
    """"YYYY-MM" of the works; None for a piece deposited without its décompte (amount only)."""
    final: bool
    seller: Party
    buyer: Party
    marche_reference: str
    marche_objet: str
    service_code: str | None
    engagement_number: str | None
    rows: tuple[DecompteRow, ...]
    headings: tuple[DecompteHeading, ...]
    montant_ht: Decimal
    montant_tva: Decimal
    montant_ttc: Decimal
    autoliquidation: bool
    etat_title: str | None = None
    """"état d'acompte n° 2 (septembre 2026), émis le 3 octobre 2026" once an issued état includes the décompte."""
    etat_figures: tuple[EngineFigure, ...] = ()
    iban: str | None = None
    iban_masked: str | None = None

    def __post_init__(self) -> None:
        if not self.number.strip():
            raise DocumentDataError("DecompteDoc.number must not be empty")
        if self.montant_ht + self.montant_tva != self.montant_ttc:
            raise DocumentDataError("DecompteDoc: HT + TVA must equal TTC")
        if self.headings and sum((h.this for h in self.headings), ZERO) != self.montant_ht:
            raise DocumentDataError("DecompteDoc: the headings of this month must add up to the montant HT")

    @property
    def month_label(self) -> str:
        return formatting.month(self.month) if self.month else "—"

    @property
    def has_lines(self) -> bool:
        return bool(self.rows)


def headings_of(amount: PdmAmount) -> tuple[DecompteHeading, ...]:
    """The engine's claim (`domain.money.schedule.pdm_amount`) as printed headings: to date, previous, this month.
    Réfactions are deducted: printed negative, so that the column of this month adds up to the montant HT."""
    out = []
    for name, label in HEADINGS:
        sign = -1 if name == "refactions" else 1
        now, before = getattr(amount.current, name), getattr(amount.previous, name)
        if name != "works" and not now and not before:
            continue  # an extra never claimed says nothing
        out.append(DecompteHeading(label, sign * now, sign * before, sign * (now - before)))
    return tuple(out)
