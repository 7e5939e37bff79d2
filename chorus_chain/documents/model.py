"""The data of the documents we print, as frozen dataclasses: what a PDF or a Factur-X says, and nothing else.

Why dataclasses and not the database models: a document is a photograph of a piece at the moment it is issued. The
integration maps the models to these classes once; the renderers, the Factur-X writer and the fingerprint then work on
plain values, in milliseconds in the tests, and a piece's PDF can be rebuilt from its export JSON.

Why the checks in `__post_init__`: a legal document must say what its numbers say. An invoice whose lines do not add
up to its HT, whose VAT is not the VAT of its bases, or whose TTC is not HT + TVA is refused *before* anything is
printed (`DocumentDataError`, a programming error: the money engine already refused the user's bad input).

Conventions:
- Money is `Decimal` with at most two decimals (cents); a credit note (AVOIR) carries positive amounts, its type
  carries the sign (as `domain.amounts`).
- VAT rates are **percentages** (`Decimal("20")`, `Decimal("5.5")`), the EN 16931 convention — not the fractions of
  the money engine (0.20); the field is named `vat_percent` so that nobody mixes them up.
- Units are UN/ECE Recommendation 20 codes (`C62` one, `MTK` m², `LS` forfait, …), what EN 16931 requires in BT-130;
  the PDF prints their French label (`UNIT_LABELS_FR`).
- Dates are `date`; the tacit-acceptance instants may be aware `datetime`s (the deadline clocks are instants).
- SIRETs are stored compact (14 digits) and must be valid (Luhn, La Poste's exception).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from stdnum import bic as stdnum_bic
from stdnum import iban as stdnum_iban
from stdnum.fr import siret as stdnum_siret

from chorus_chain.domain.amounts import AUTOLIQUIDATION_MENTION, CENT, ZERO, round_cent
from chorus_chain.domain.legal_identity import legal_mention as compose_legal_mention

__all__ = [
    "AUTOLIQUIDATION_MENTION",
    "DEFAULT_EARLY_PAYMENT",
    "DEFAULT_LATE_PENALTY",
    "FLAT_FEE",
    "FLAT_FEE_MENTION",
    "UNIT_LABELS_FR",
    "Address",
    "AttestationTacitDoc",
    "DocumentDataError",
    "FicheMarcheDoc",
    "FicheParty",
    "FicheRoute",
    "InterestClaimDoc",
    "InterestLine",
    "InvoiceDoc",
    "InvoiceLine",
    "InvoiceType",
    "Party",
    "VatBreakdown",
    "VatRegime",
    "vat_breakdown",
]

FLAT_FEE = Decimal("40.00")
"""Indemnité forfaitaire pour frais de recouvrement, per late payment (C. com. D. 441-5; CCP D. 2192-35)."""

FLAT_FEE_MENTION = (
    "Indemnité forfaitaire pour frais de recouvrement due en cas de retard de paiement : 40 € "
    "(art. L. 441-10 et D. 441-5 du code de commerce ; art. D. 2192-35 du code de la commande publique)."
)

DEFAULT_LATE_PENALTY = (
    "Pénalités de retard : intérêts moratoires au taux de la Banque centrale européenne pour ses opérations "
    "principales de refinancement en vigueur au premier jour du semestre au cours duquel ils ont commencé à "
    "courir, majoré de 8 points (art. R. 2192-31 du code de la commande publique)."
)
"""The late-payment rate printed by default: the public-procurement rule (CHORUS.md §5). A private customer (a
titulaire paying its sous-traitant) may need the code de commerce wording instead: it is a field of the invoice."""

DEFAULT_EARLY_PAYMENT = "Pas d'escompte pour paiement anticipé."
"""The discount conditions are a mandatory mention even when there is none (C. com. L. 441-9)."""

UNIT_LABELS_FR: dict[str, str] = {
    "C62": "u",
    "H87": "pièce",
    "LS": "forfait",
    "MTR": "m",
    "MTK": "m²",
    "MTQ": "m³",
    "KGM": "kg",
    "TNE": "t",
    "LTR": "l",
    "HUR": "h",
    "DAY": "jour",
    "WEE": "semaine",
    "MON": "mois",
    "P1": "%",
}
"""French labels of the UN/ECE Rec. 20 unit codes used in works invoices; an unknown code is printed as is."""


class DocumentDataError(ValueError):
    """The data handed to a renderer is inconsistent (a programming error, in English: the user never sees it)."""


class InvoiceType(StrEnum):
    FACTURE = "FACTURE"
    AVOIR = "AVOIR"


class VatRegime(StrEnum):
    NORMAL = "normal"
    AUTOLIQUIDATION = "autoliquidation"
    """BTP sous-traitance: no VAT on the invoice, the customer self-assesses it (CGI art. 283-2 nonies)."""


# ---------------------------------------------------------------------------------------------------------------------
# Checks shared by the classes


def _money(name: str, value: Decimal, *, negative: bool = False) -> None:
    if not isinstance(value, Decimal) or isinstance(value, bool):
        raise DocumentDataError(f"{name} must be a Decimal, not {type(value).__name__}")
    if not value.is_finite() or value != value.quantize(CENT):
        raise DocumentDataError(f"{name} must have at most two decimals: {value}")
    if value < 0 and not negative:
        raise DocumentDataError(f"{name} must not be negative: {value}")


def _decimal(name: str, value: Decimal) -> None:
    if not isinstance(value, Decimal) or isinstance(value, bool) or not value.is_finite():
        raise DocumentDataError(f"{name} must be a finite Decimal, not {value!r}")


def _text(name: str, value: str, *, required: bool = True) -> None:
    if not isinstance(value, str):
        raise DocumentDataError(f"{name} must be a str, not {type(value).__name__}")
    if required and not value.strip():
        raise DocumentDataError(f"{name} must not be empty")


def _sum(values: Iterable[Decimal]) -> Decimal:
    return sum(values, ZERO)


# ---------------------------------------------------------------------------------------------------------------------
# Parties


@dataclass(frozen=True)
class Address:
    lines: tuple[str, ...]
    """Street lines, at most three (EN 16931 BT-35..BT-162)."""
    postcode: str
    city: str
    country: str = "FR"
    """ISO 3166-1 alpha-2."""

    def __post_init__(self) -> None:
        if not isinstance(self.lines, tuple) or len(self.lines) > 3:
            raise DocumentDataError("Address.lines must be a tuple of at most three lines")
        for line in self.lines:
            _text("Address line", line)
        _text("Address.city", self.city)
        if len(self.country) != 2 or not self.country.isalpha() or not self.country.isupper():
            raise DocumentDataError(f"Address.country must be an ISO 3166 alpha-2 code: {self.country!r}")


@dataclass(frozen=True)
class Party:
    """A structure as a document shows it: the seller, the buyer, an emitter, a validator, a creditor…"""

    name: str
    siret: str
    address: Address
    vat_number: str | None = None
    legal_info: str = ""
    """A ready-made legal sentence (samples, imported data); when empty, `legal_mention` composes it from the three
    fields below."""
    legal_form: str | None = None
    """"SAS", "SARL", "EI"… (C. com. R. 123-237; nothing for a public body)."""
    share_capital: Decimal | None = None
    """Share capital in euros, cents at most."""
    registration: str | None = None
    """"RCS Angers 512 345 678", "RM 49"."""

    def __post_init__(self) -> None:
        _text("Party.name", self.name)
        if self.share_capital is not None:
            _money("Party.share_capital", self.share_capital)
        if not (isinstance(self.siret, str) and self.siret.isdigit() and len(self.siret) == 14
                and stdnum_siret.is_valid(self.siret)):
            raise DocumentDataError(f"Party.siret must be a valid compact SIRET: {self.siret!r}")
        if self.vat_number is not None:
            _text("Party.vat_number", self.vat_number)

    @property
    def siren(self) -> str:
        return self.siret[:9]

    @property
    def legal_mention(self) -> str:
        """What is printed under the name (and carried as BT-33 for a seller): legal form, share capital and
        registration, e.g. "SAS au capital de 50 000,00 € — RCS Angers 512 345 678"; "" when nothing is known."""
        return self.legal_info or compose_legal_mention(self.legal_form, self.share_capital, self.registration)


# ---------------------------------------------------------------------------------------------------------------------
# Invoices and credit notes


@dataclass(frozen=True)
class InvoiceLine:
    designation: str
    quantity: Decimal
    unit: str
    """UN/ECE Rec. 20 code (see UNIT_LABELS_FR)."""
    unit_price_ht: Decimal
    vat_percent: Decimal
    amount_ht: Decimal

    def __post_init__(self) -> None:
        _text("InvoiceLine.designation", self.designation)
        _decimal("InvoiceLine.quantity", self.quantity)
        _decimal("InvoiceLine.unit_price_ht", self.unit_price_ht)
        _decimal("InvoiceLine.vat_percent", self.vat_percent)
        _money("InvoiceLine.amount_ht", self.amount_ht, negative=True)
        _text("InvoiceLine.unit", self.unit)
        if not Decimal(0) <= self.vat_percent <= Decimal(100):
            raise DocumentDataError(f"vat_percent is a percentage between 0 and 100: {self.vat_percent}")
        if self.amount_ht != round_cent(self.quantity * self.unit_price_ht):
            raise DocumentDataError(
                f"line {self.designation!r}: amount_ht {self.amount_ht} != quantity × unit price "
                f"({self.quantity} × {self.unit_price_ht})")


@dataclass(frozen=True)
class VatBreakdown:
    """One VAT rate of an invoice: its category (EN 16931 BT-118: S standard, AE reverse charge), base and tax."""

    category: str
    percent: Decimal
    base_ht: Decimal
    tax: Decimal


@dataclass(frozen=True)
class InvoiceDoc:
    number: str
    invoice_type: InvoiceType
    issue_date: date
    due_date: date
    seller: Party
    buyer: Party
    marche_reference: str
    service_code: str | None
    """Code service of the buyer (EN 16931 BT-10, Chorus routing)."""
    engagement_number: str | None
    """Engagement juridique / purchase order (BT-13), at most 50 characters."""
    lines: tuple[InvoiceLine, ...]
    total_ht: Decimal
    total_tva: Decimal
    total_ttc: Decimal
    payment_terms: str
    """E.g. "Virement à 30 jours à compter de la réception de la demande de paiement"."""
    vat_regime: VatRegime = VatRegime.NORMAL
    iban: str | None = None
    bic: str | None = None
    iban_masked: str | None = None
    """The masked IBAN ("FR76 •••• •••• 0189") printed instead of `iban` for a viewer who does not see the bank
    details: never in the XML."""
    original_invoice_number: str | None = None
    """The invoice a credit note cancels (mandatory for an AVOIR, BT-25)."""
    original_invoice_date: date | None = None
    delivery_date: date | None = None
    """Date of the works / end of the period invoiced (mandatory mention "date de la prestation", BT-72)."""
    cadre: str | None = None
    """Chorus Pro cadre de facturation (A1…A25), carried as the business process type (BT-23)."""
    late_penalty_terms: str = DEFAULT_LATE_PENALTY
    early_payment_terms: str = DEFAULT_EARLY_PAYMENT
    flat_fee_terms: str = FLAT_FEE_MENTION
    """The 40 € indemnity's mention: both codes for a public buyer; the code de commerce only between companies."""

    def __post_init__(self) -> None:
        _text("InvoiceDoc.number", self.number)
        _text("InvoiceDoc.marche_reference", self.marche_reference)
        _text("InvoiceDoc.payment_terms", self.payment_terms)
        if not isinstance(self.invoice_type, InvoiceType):
            raise DocumentDataError("invoice_type must be an InvoiceType")
        if not isinstance(self.vat_regime, VatRegime):
            raise DocumentDataError("vat_regime must be a VatRegime")
        if self.engagement_number is not None and len(self.engagement_number) > 50:
            raise DocumentDataError("engagement_number has at most 50 characters")
        if self.due_date < self.issue_date:
            raise DocumentDataError("due_date is before issue_date")
        if not isinstance(self.lines, tuple) or not self.lines:
            raise DocumentDataError("an invoice has at least one line, as a tuple")
        for name in ("total_ht", "total_tva", "total_ttc"):
            _money(f"InvoiceDoc.{name}", getattr(self, name))
        if self.total_ht != _sum(line.amount_ht for line in self.lines):
            raise DocumentDataError(f"total_ht {self.total_ht} is not the sum of the lines")
        if self.vat_regime is VatRegime.AUTOLIQUIDATION and any(line.vat_percent for line in self.lines):
            raise DocumentDataError("under autoliquidation every line has a 0 % VAT rate")
        if self.total_tva != _sum(item.tax for item in vat_breakdown(self)):
            raise DocumentDataError(f"total_tva {self.total_tva} is not the VAT of the bases, rate by rate")
        if self.total_ttc != self.total_ht + self.total_tva:
            raise DocumentDataError("total_ttc != total_ht + total_tva")
        if self.invoice_type is InvoiceType.AVOIR and not self.original_invoice_number:
            raise DocumentDataError("a credit note references its original invoice")
        if self.iban is not None and not stdnum_iban.is_valid(self.iban):
            raise DocumentDataError(f"invalid IBAN {self.iban!r}")
        if self.bic is not None and not stdnum_bic.is_valid(self.bic):
            raise DocumentDataError(f"invalid BIC {self.bic!r}")

    @property
    def is_credit_note(self) -> bool:
        return self.invoice_type is InvoiceType.AVOIR

    @property
    def is_autoliquidation(self) -> bool:
        return self.vat_regime is VatRegime.AUTOLIQUIDATION


def vat_breakdown(doc: InvoiceDoc) -> tuple[VatBreakdown, ...]:
    """The VAT per rate, highest rate first: base = sum of the lines' HT at that rate, tax = base × rate rounded
    half-up to the cent once per rate — what EN 16931 expects (BR-S-09, BR-AE-09) and what the PDF prints.
    Under autoliquidation there is one category AE at 0 % whose tax is 0."""
    category = "AE" if doc.vat_regime is VatRegime.AUTOLIQUIDATION else "S"
    bases: dict[Decimal, Decimal] = {}
    for line in doc.lines:
        key = line.vat_percent.normalize()
        bases[key] = bases.get(key, ZERO) + line.amount_ht
    return tuple(
        VatBreakdown(category, percent, base, ZERO if category == "AE" else round_cent(base * percent / 100))
        for percent, base in sorted(bases.items(), reverse=True)
    )


# ---------------------------------------------------------------------------------------------------------------------
# Attestation of tacit acceptance


@dataclass(frozen=True)
class AttestationTacitDoc:
    """The proof that a validator stayed silent for `silence_days` after a deposit (CHORUS.md §5: 15 days for the
    contractor's answer to a sous-traitant's payment request, silence = acceptance)."""

    piece_number: str
    piece_label: str
    """What was deposited, in French: "Projet de décompte mensuel", "Demande de paiement"…"""
    marche_reference: str
    emitter: Party
    validator: Party
    deposit_date: date | datetime
    deadline_date: date | datetime
    """When the silence became an acceptance: deposit + silence_days (the same instant, CHORUS.md §5)."""
    attested_on: date
    silence_days: int = 15
    amount_ttc: Decimal | None = None

    def __post_init__(self) -> None:
        for name in ("piece_number", "piece_label", "marche_reference"):
            _text(f"AttestationTacitDoc.{name}", getattr(self, name))
        if type(self.deposit_date) is not type(self.deadline_date):
            raise DocumentDataError("deposit_date and deadline_date are both dates or both datetimes")
        if isinstance(self.deposit_date, datetime) and (self.deposit_date.tzinfo is None
                                                        or self.deadline_date.tzinfo is None):
            raise DocumentDataError("instants must be aware datetimes")
        if not isinstance(self.silence_days, int) or self.silence_days <= 0:
            raise DocumentDataError("silence_days is a positive int")
        if self.deadline_date - self.deposit_date != timedelta(days=self.silence_days):
            raise DocumentDataError(
                f"deadline_date must be deposit_date + {self.silence_days} days: the attestation proves the rule")
        deadline_day = self.deadline_date.date() if isinstance(self.deadline_date, datetime) else self.deadline_date
        if self.attested_on < deadline_day:
            raise DocumentDataError("a tacit acceptance is attested on or after its deadline")
        if self.amount_ttc is not None:
            _money("AttestationTacitDoc.amount_ttc", self.amount_ttc)


# ---------------------------------------------------------------------------------------------------------------------
# Letter claiming late-payment interest


@dataclass(frozen=True)
class InterestLine:
    """One late payment: the piece paid late, its amount (the interest base), due and payment dates, the rate
    (a percentage: ECB + 8 points), the interest and the 40 € fee."""

    piece_number: str
    base_ttc: Decimal
    due_date: date
    payment_date: date
    days_late: int
    rate_percent: Decimal
    interest: Decimal
    fee: Decimal = FLAT_FEE

    def __post_init__(self) -> None:
        _text("InterestLine.piece_number", self.piece_number)
        _money("InterestLine.base_ttc", self.base_ttc)
        _money("InterestLine.interest", self.interest)
        _money("InterestLine.fee", self.fee)
        _decimal("InterestLine.rate_percent", self.rate_percent)
        if self.days_late != (self.payment_date - self.due_date).days or self.days_late <= 0:
            raise DocumentDataError("days_late must be payment_date − due_date, and positive")


@dataclass(frozen=True)
class InterestClaimDoc:
    number: str
    """The letter's reference (printed in the footer)."""
    creditor: Party
    debtor: Party
    marche_reference: str
    letter_date: date
    lines: tuple[InterestLine, ...]
    total_interest: Decimal
    total_fees: Decimal
    total_claimed: Decimal
    place: str = ""
    """"Fait à …": the creditor's city when empty."""
    signatory: str = ""

    def __post_init__(self) -> None:
        _text("InterestClaimDoc.number", self.number)
        _text("InterestClaimDoc.marche_reference", self.marche_reference)
        if not isinstance(self.lines, tuple) or not self.lines:
            raise DocumentDataError("a claim has at least one late payment, as a tuple")
        for name in ("total_interest", "total_fees", "total_claimed"):
            _money(f"InterestClaimDoc.{name}", getattr(self, name))
        if self.total_interest != _sum(line.interest for line in self.lines):
            raise DocumentDataError("total_interest is not the sum of the lines")
        if self.total_fees != _sum(line.fee for line in self.lines):
            raise DocumentDataError("total_fees is not the sum of the fees")
        if self.total_claimed != self.total_interest + self.total_fees:
            raise DocumentDataError("total_claimed != total_interest + total_fees")


# ---------------------------------------------------------------------------------------------------------------------
# Fiche d'identité du marché


@dataclass(frozen=True)
class FicheParty:
    role: str
    """French label: "Maître d'ouvrage", "Titulaire", "Sous-traitant de rang 1"…"""
    name: str
    siret: str
    detail: str = ""
    """Free French detail: "paiement direct", "part acceptée 120 000,00 € TTC"…"""
    amount_ttc: Decimal | None = None

    def __post_init__(self) -> None:
        _text("FicheParty.role", self.role)
        _text("FicheParty.name", self.name)
        if self.amount_ttc is not None:
            _money("FicheParty.amount_ttc", self.amount_ttc)


@dataclass(frozen=True)
class FicheRoute:
    cadre: str
    label: str
    steps: tuple[str, ...]
    """Who acts, in order, in French: ("Sous-traitant", "Titulaire", "MOE", "MOA", "Service financier")."""


@dataclass(frozen=True)
class FicheMarcheDoc:
    reference: str
    objet: str
    issuer: Party
    """The structure that prints the fiche (its identity block)."""
    edited_on: date
    parties: tuple[FicheParty, ...]
    routes: tuple[FicheRoute, ...] = ()
    kind: str = ""
    """"Travaux", "Services", "Fournitures"."""
    amount_ht: Decimal | None = None
    facts: tuple[tuple[str, str], ...] = field(default=())
    """Further (label, value) rows already in French: "Délai global de paiement" → "30 jours"."""

    def __post_init__(self) -> None:
        _text("FicheMarcheDoc.reference", self.reference)
        _text("FicheMarcheDoc.objet", self.objet)
        if not isinstance(self.parties, tuple) or not isinstance(self.routes, tuple):
            raise DocumentDataError("parties and routes are tuples")
        if self.amount_ht is not None:
            _money("FicheMarcheDoc.amount_ht", self.amount_ht)
