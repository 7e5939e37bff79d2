"""Marchés and their parties (the rows the chain graph is built from), DC4 amendments and the marché's event log.

A party row is one (structure, role) pair of a marché. Its structure may not exist yet: a company invited by SIRET
gets a row with `structure_id` NULL, linked when its future gestionnaire creates the structure. The chain itself
(rang, paiement direct, autoliquidation, cadres, routes) is derived by `chorus_chain.graph` from these rows, never
stored: `operations.chain` is the adapter.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from chorus_chain.domain import commercial_terms
from chorus_chain.domain.deadlines import BUYER_LABELS, DGP_DAYS_BY_BUYER
from chorus_chain.graph.chain import COTRAITANCE_CIRCUITS, GROUPEMENTS, KINDS, Role
from chorus_chain.models.accounts import Account
from chorus_chain.models.base import Base, check_in, utcnow
from chorus_chain.models.structures import Structure

PRICE_FORMS = ("ferme", "actualisable", "revisable")
CCAG_VERSIONS = ("2021", "2009")
# The kinds of public buyer and their délai global de paiement ceilings (domain.deadlines.DGP_DAYS_BY_BUYER).
BUYER_CATEGORIES = tuple(DGP_DAYS_BY_BUYER)
MOE_DAYS_MAX = 15  # regulation; Chorus guidance is 7 (the default)
RETENUE_RATE_MAX = Decimal("5")  # ≤ 5 % of the amount [sure]
AVANCE_RATE_MAX = Decimal("60")  # 5–30 % as a rule, up to 60 % with a guarantee (CCP R2191-7 ff.)
AVANCE_WITHOUT_GUARANTEE_MAX = Decimal("30")  # above it, a garantie à première demande is required
PARTY_STATUSES = ("invited", "confirmed", "declined")
DC4_STATUSES = ("pending", "accepted", "refused", "tacit")
REPAYMENT_BASES = ("own_part", "whole_marche")  # domain.money.RepaymentBasis

Money = Numeric(14, 2)
Rate = Numeric(5, 2)
CENT = Decimal("0.01")


def ttc_of(montant_ht: Decimal, tva_rate: Decimal) -> Decimal:
    """An amount TTC from HT and a VAT rate in percent, rounded half-up to the cent once."""
    return (montant_ht * (1 + tva_rate / 100)).quantize(CENT, rounding=ROUND_HALF_UP)


class Marche(Base):
    __tablename__ = "marche"
    __table_args__ = (
        CheckConstraint(check_in("kind", KINDS), name="kind"),
        CheckConstraint(check_in("buyer_category", BUYER_CATEGORIES), name="buyer_category"),
        # Any number of days up to the buyer's ceiling (CCP R2192-10, R2192-11), the rule `deadlines.check_dgp_days`
        # states for the forms; the database holds it too.
        CheckConstraint("dgp_days >= 1 AND dgp_days <= CASE buyer_category " + " ".join(
            f"WHEN '{k}' THEN {v}" for k, v in DGP_DAYS_BY_BUYER.items()) + " END", name="dgp_days"),
        CheckConstraint(f"moe_days BETWEEN 1 AND {MOE_DAYS_MAX}", name="moe_days"),
        CheckConstraint(f"retenue_rate >= 0 AND retenue_rate <= {RETENUE_RATE_MAX}", name="retenue_rate"),
        CheckConstraint(f"avance_rate >= 0 AND avance_rate <= {AVANCE_RATE_MAX}", name="avance_rate"),
        CheckConstraint("tva_rate >= 0 AND tva_rate <= 100", name="tva_rate"),
        CheckConstraint("montant_ht >= 0", name="montant_ht"),
        CheckConstraint(check_in("price_form", PRICE_FORMS), name="price_form"),
        CheckConstraint("revision_a IS NULL OR (revision_a >= 0 AND revision_a <= 1)", name="revision_a"),
        CheckConstraint("revision_base_month IS NULL OR length(revision_base_month) = 7", name="revision_base_month"),
        CheckConstraint(check_in("ccag_version", CCAG_VERSIONS), name="ccag_version"),
        CheckConstraint(check_in("groupement", GROUPEMENTS), name="groupement"),
        CheckConstraint(check_in("cotraitance_circuit", COTRAITANCE_CIRCUITS), name="cotraitance_circuit"),
        CheckConstraint("version >= 1", name="version"),
        CheckConstraint("duration_months >= 1", name="duration_months"),
        # Above 30 % an advance needs a garantie à première demande (CCP R2191-7 ff.).
        CheckConstraint(f"avance_rate <= {AVANCE_WITHOUT_GUARANTEE_MAX} OR avance_guarantee", name="avance_guarantee"),
        CheckConstraint("avance_repayment_end > 65 AND avance_repayment_end <= 100", name="avance_repayment_end"),
        # The repayment starts at the latest at 65 % executed, and ends after it starts (R2191-11; CHORUS.md §6b).
        CheckConstraint("avance_repayment_start >= 0 AND avance_repayment_start <= 65 "
                        "AND avance_repayment_end > avance_repayment_start", name="avance_repayment_start"),
        CheckConstraint(check_in("avance_repayment_basis", REPAYMENT_BASES), name="avance_repayment_basis"),
        CheckConstraint("penalty_daily_amount IS NULL OR penalty_daily_amount >= 0", name="penalty_daily_amount"),
        CheckConstraint("guarantee_months >= 0", name="guarantee_months"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(100), unique=True)
    objet: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(12))
    # Routing data the depositors put on their pieces (CHORUS.md §1): the MOA's service, the EJ, the paying service.
    moa_service_code: Mapped[str | None] = mapped_column(String(100))
    engagement_number: Mapped[str | None] = mapped_column(String(50))  # ≤ 50 characters [sure]
    paying_service_code: Mapped[str | None] = mapped_column(String(100))
    montant_ht: Mapped[Decimal] = mapped_column(Money)
    tva_rate: Mapped[Decimal] = mapped_column(Rate)
    dgp_days: Mapped[int] = mapped_column(default=30)
    buyer_category: Mapped[str] = mapped_column(String(30), default="collectivite_territoriale",
                                                server_default="collectivite_territoriale")
    moe_days: Mapped[int] = mapped_column(default=7)
    retenue_rate: Mapped[Decimal] = mapped_column(Rate, default=Decimal("5.00"))
    retenue_replaced_by_guarantee: Mapped[bool] = mapped_column(default=False)
    avance_rate: Mapped[Decimal] = mapped_column(Rate, default=Decimal("0.00"))
    # Money settings of the engine (CHORUS.md §6b), each with its default.
    duration_months: Mapped[int] = mapped_column(default=12, server_default="12")
    avance_guarantee: Mapped[bool] = mapped_column(default=False, server_default=false())
    avance_repayment_end: Mapped[Decimal] = mapped_column(Rate, default=Decimal("80.00"), server_default="80.00")
    avance_repayment_start: Mapped[Decimal] = mapped_column(Rate, default=Decimal("65.00"), server_default="65.00")
    # Whose execution paces the repayment: each beneficiary's own part, or the whole marché.
    avance_repayment_basis: Mapped[str] = mapped_column(String(12), default="own_part", server_default="own_part")
    penalty_daily_amount: Mapped[Decimal | None] = mapped_column(Money)  # None: 1/3000 of the amount (CCAG 2021)
    penalty_exemption: Mapped[bool] = mapped_column(default=True, server_default=true())  # total ≤ 1 000 € HT: none
    guarantee_months: Mapped[int] = mapped_column(default=12, server_default="12")
    reception_on: Mapped[date | None]  # réception des travaux: starts the guarantee period
    price_form: Mapped[str] = mapped_column(String(12), default="ferme")
    revision_a: Mapped[Decimal | None] = mapped_column(Numeric(6, 4))  # fixed part a of P = P0 (a + b I/I0)
    revision_index: Mapped[str | None] = mapped_column(String(20))  # e.g. "BT01"
    revision_base_month: Mapped[str | None] = mapped_column(String(7))  # "YYYY-MM": the month of I0
    ccag_version: Mapped[str] = mapped_column(String(4), default="2021")
    groupement: Mapped[str] = mapped_column(String(10), default="none")
    cotraitance_circuit: Mapped[str] = mapped_column(String(20), default="each")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("structure.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Bumped on every change of the chain: the key of any cached chain (DESIGN.md §5).
    version: Mapped[int] = mapped_column(default=1)

    created_by: Mapped[Structure] = relationship(lazy="raise")
    parties: Mapped[list[MarcheParty]] = relationship(back_populates="marche", lazy="raise",
                                                      order_by="MarcheParty.id")

    @property
    def montant_ttc(self) -> Decimal:
        """The marché's amount TTC, rounded half-up to the cent once."""
        return ttc_of(self.montant_ht, self.tva_rate)

    @property
    def has_revision(self) -> bool:
        return self.revision_index is not None

    @property
    def dgp_ceiling(self) -> int:
        """The most days of délai global de paiement its kind of buyer may set (CCP R2192-10, R2192-11)."""
        return DGP_DAYS_BY_BUYER[self.buyer_category]

    @property
    def buyer_label(self) -> str:
        return BUYER_LABELS[self.buyer_category]


class MarcheParty(Base):
    """One (structure, role) pair of a marché; a sous-traitant's row carries its DC4."""

    __tablename__ = "marche_party"
    __table_args__ = (
        UniqueConstraint("marche_id", "siret", "role", name="marche_siret_role"),
        CheckConstraint(check_in("role", Role.ALL), name="role"),
        CheckConstraint(check_in("status", PARTY_STATUSES), name="status"),
        CheckConstraint(f"dc4_status IS NULL OR {check_in('dc4_status', DC4_STATUSES)}", name="dc4_status"),
        CheckConstraint("montant_ttc IS NULL OR montant_ttc >= 0", name="montant_ttc"),
        CheckConstraint("role = 'sous_traitant' OR dc4_status IS NULL", name="dc4_only_sous_traitant"),
        CheckConstraint("length(siret) = 14", name="siret"),
        # C. com. L. 441-10 I: at most 60 days from the invoice's date, or 45 days end of month.
        CheckConstraint("commercial_term_days IS NULL OR (commercial_term_days BETWEEN 1 AND 60 AND "
                        "(NOT commercial_term_end_of_month OR commercial_term_days <= 45))", name="commercial_term"),
        Index("ix_marche_party_structure_status", "structure_id", "status"),
        Index("ix_marche_party_siret", "siret"),
        # The parties under a party (« Montants par entreprise »: the companies under the structure's own).
        Index("ix_marche_party_parent", "parent_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    marche_id: Mapped[int] = mapped_column(ForeignKey("marche.id"), index=True)
    structure_id: Mapped[int | None] = mapped_column(ForeignKey("structure.id"))  # NULL until the structure exists
    siret: Mapped[str] = mapped_column(String(14))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(15))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("marche_party.id"))
    montant_ttc: Mapped[Decimal | None] = mapped_column(Money)  # accepted DC4 part, or a groupement member's part
    status: Mapped[str] = mapped_column(String(10), default="invited")
    service_code: Mapped[str | None] = mapped_column(String(100))  # the paying office's code service
    # Invitation
    invited_email: Mapped[str | None] = mapped_column(String(254))  # where an unknown company was invited
    # The secret link of that invitation: only its SHA-256, unique, spent once linked; and when it stops working.
    invitation_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    invitation_expires_at: Mapped[datetime | None]
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("structure.id"))
    invited_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]  # confirmed or declined
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    # DC4 (sous-traitants only)
    dc4_nature: Mapped[str | None] = mapped_column(Text)  # nature of the subcontracted part
    dc4_payment_terms: Mapped[str | None] = mapped_column(Text)  # advance, revision, payment terms
    iban: Mapped[str | None] = mapped_column(String(34))  # compact form
    bic: Mapped[str | None] = mapped_column(String(11))
    dc4_received_at: Mapped[date | None]  # the day the MOA received it: the 21-day clock starts there
    dc4_status: Mapped[str | None] = mapped_column(String(10))
    accepted_on: Mapped[date | None]
    dc4_refusal_reason: Mapped[str | None] = mapped_column(String(500))
    # What the acte spécial says its ceiling covers: the amount revision included (the default) or at base prices,
    # « hors révision des prix » — then a revision may take the payments beyond the DC4 amount (issue 16).
    dc4_ceiling_includes_revision: Mapped[bool] = mapped_column(default=True, server_default=true())
    # A sous-traitant in paiement direct is paid its advance only at its request (R2193-19): True once it declines.
    avance_declined: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The payment term of its private invoices agreed with its contractor (a sous-traitant its contractor pays: no
    # paiement direct): days from the invoice's date, or « fin de mois »; None: nothing agreed, the legal 30 days.
    commercial_term_days: Mapped[int | None]
    commercial_term_end_of_month: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    marche: Mapped[Marche] = relationship(back_populates="parties", lazy="raise")
    structure: Mapped[Structure | None] = relationship(foreign_keys=[structure_id], lazy="raise")

    @property
    def is_active(self) -> bool:
        """Part of the chain: invited or confirmed (a declined row stays for history only)."""
        return self.status != "declined"

    @property
    def dc4_accepted(self) -> bool:
        return self.dc4_status in ("accepted", "tacit")

    @property
    def commercial_term(self) -> commercial_terms.Term:
        """The payment term of the private invoices it issues (the legal default when nothing was agreed)."""
        return commercial_terms.Term.agreed(self.commercial_term_days, self.commercial_term_end_of_month)

    @property
    def iban_masked(self) -> str | None:
        return None if not self.iban else f"{self.iban[:4]} •••• •••• {self.iban[-4:]}"


class Dc4Avenant(Base):
    """An amendment to a sous-traitant's acte spécial changing its amount (recorded by the MOA)."""

    __tablename__ = "dc4_avenant"
    __table_args__ = (
        CheckConstraint("old_montant_ttc >= 0 AND new_montant_ttc >= 0", name="amounts"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("marche_party.id"), index=True)
    old_montant_ttc: Mapped[Decimal] = mapped_column(Money)
    new_montant_ttc: Mapped[Decimal] = mapped_column(Money)
    signed_on: Mapped[date]
    reason: Mapped[str] = mapped_column(String(500), default="")
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MarcheAvenant(Base):
    """A modification of the marché (avenant, CCP R2194-1 ff.), distinct from its initial amount: its date, its amount
    HT (+ or −), whose part it changes (`party_id`; None: the titulaire / mandataire), the price lines it changes
    (`lines`: reference, old and new amount HT) and those it adds (`PriceLine.avenant_id`). The marché's
    `montant_ht` is the amount as modified; its initial amount is `montant_ht` − Σ avenants (`Marche` never forgets
    it: `operations.avenants.initial_amount_ht`). A sous-traitant's part changed together with its acte spécial points
    at the `Dc4Avenant` that records the new DC4 amount (one fact, not two)."""

    __tablename__ = "marche_avenant"
    __table_args__ = (
        UniqueConstraint("marche_id", "number", name="marche_number"),
        CheckConstraint("amount_ht <> 0", name="amount_ht"),
        CheckConstraint("number >= 1", name="number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    marche_id: Mapped[int] = mapped_column(ForeignKey("marche.id"), index=True)
    number: Mapped[int]
    signed_on: Mapped[date]
    amount_ht: Mapped[Decimal] = mapped_column(Money)
    party_id: Mapped[int | None] = mapped_column(ForeignKey("marche_party.id"))
    objet: Mapped[str] = mapped_column(String(500))
    lines: Mapped[list] = mapped_column(JSON, default=list)
    dc4_avenant_id: Mapped[int | None] = mapped_column(ForeignKey("dc4_avenant.id"))
    montant_before_ht: Mapped[Decimal] = mapped_column(Money)
    montant_after_ht: Mapped[Decimal] = mapped_column(Money)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MarcheEvent(Base):
    """Append-only log of the chain's changes: who (account + structure), when, what, on which party."""

    __tablename__ = "marche_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    marche_id: Mapped[int] = mapped_column(ForeignKey("marche.id"), index=True)
    party_id: Mapped[int | None] = mapped_column(ForeignKey("marche_party.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))  # None: the system (sweep)
    structure_id: Mapped[int | None] = mapped_column(ForeignKey("structure.id"))
    kind: Mapped[str] = mapped_column(String(60))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)

    account: Mapped[Account | None] = relationship(lazy="raise")
