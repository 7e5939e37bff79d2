"""The money of a marché as rows (issue 5): its price schedule, the projets de décompte with their lines (claimed by
the depositor, admitted by the MOE), the états d'acompte the MOE issues, the penalties it applies, the index values
it enters, and the dated ECB rates of the late-payment interest.

Every figure is computed by the pure engine (`chorus_chain.domain.money`); these rows hold only what people enter
and, for an issued état d'acompte, the engine's result frozen as JSON (`EtatAcompte.to_dict()`): an issued état
never changes, and the next one starts from its cumulative state.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from chorus_chain.models.accounts import Account
from chorus_chain.models.base import Base, check_in, utcnow
from chorus_chain.models.marches import Marche, MarcheParty
from chorus_chain.models.pieces import Piece

Money = Numeric(14, 2)
Quantity = Numeric(14, 3)
UnitPrice = Numeric(14, 4)
Percent = Numeric(7, 3)
IndexNumber = Numeric(12, 4)
ETAT_STATUSES = ("draft", "issued", "returned")
# The suffix of an état issued again after the MOA returned it: « n° 4 bis », « n° 4 ter »… (index = `suffix`).
ETAT_SUFFIXES = ("", "bis", "ter", "quater", "quinquies", "sexies", "septies", "octies", "nonies", "decies")


class PriceLine(Base):
    """One line of the marché's price schedule (bordereau / DPGF): a unit-price line (quantity × unit price HT) or a
    lump-sum line (`lump_sum`, `amount_ht` given). `party_id` is the party whose part the line belongs to (None: the
    titulaire / mandataire)."""

    __tablename__ = "price_line"
    __table_args__ = (
        UniqueConstraint("marche_id", "reference", name="uq_price_line_marche_reference"),
        CheckConstraint("amount_ht >= 0", name="amount_ht"),
        CheckConstraint("quantity IS NULL OR quantity >= 0", name="quantity"),
        CheckConstraint("unit_price_ht IS NULL OR unit_price_ht >= 0", name="unit_price_ht"),
        CheckConstraint("lump_sum OR (quantity IS NOT NULL AND unit_price_ht IS NOT NULL)", name="unit_line"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    marche_id: Mapped[int] = mapped_column(ForeignKey("marche.id"), index=True)
    party_id: Mapped[int | None] = mapped_column(ForeignKey("marche_party.id"))
    position: Mapped[int] = mapped_column(default=0)
    lot: Mapped[str] = mapped_column(String(50), default="")
    reference: Mapped[str] = mapped_column(String(30))
    designation: Mapped[str] = mapped_column(String(300))
    unit: Mapped[str] = mapped_column(String(20), default="")
    quantity: Mapped[Decimal | None] = mapped_column(Quantity)
    unit_price_ht: Mapped[Decimal | None] = mapped_column(UnitPrice)
    lump_sum: Mapped[bool] = mapped_column(default=False)
    amount_ht: Mapped[Decimal] = mapped_column(Money)  # quantity × unit price rounded once, or the lump sum
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A line added to the bordereau by a modification of the marché (issue 16); None: a line of the initial marché.
    avenant_id: Mapped[int | None] = mapped_column(ForeignKey("marche_avenant.id"))

    marche: Mapped[Marche] = relationship(lazy="raise")
    party: Mapped[MarcheParty | None] = relationship(lazy="raise")


class Decompte(Base):
    """The figures of one projet de décompte (a PDM piece: A4, A10, A13, or a final one), cumulative since the start,
    HT at base prices: what the depositor claims, and what the MOE admits (`admitted_*`, None until it does)."""

    __tablename__ = "decompte"
    __table_args__ = (
        CheckConstraint("length(month) = 7", name="month"),
        CheckConstraint(
            "approvisionnements >= 0 AND primes >= 0 AND debours >= 0 AND refactions >= 0", name="amounts"
        ),
        Index("ix_decompte_marche_month", "marche_id", "month"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    piece_id: Mapped[int] = mapped_column(ForeignKey("piece.id"), unique=True)
    marche_id: Mapped[int] = mapped_column(ForeignKey("marche.id"))
    party_id: Mapped[int] = mapped_column(ForeignKey("marche_party.id"))
    month: Mapped[str] = mapped_column(String(7))  # "YYYY-MM": the month of works it covers
    final: Mapped[bool] = mapped_column(default=False)  # projet de décompte final
    approvisionnements: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    primes: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    debours: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    refactions: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    admitted_approvisionnements: Mapped[Decimal | None] = mapped_column(Money)
    admitted_primes: Mapped[Decimal | None] = mapped_column(Money)
    admitted_debours: Mapped[Decimal | None] = mapped_column(Money)
    admitted_refactions: Mapped[Decimal | None] = mapped_column(Money)
    justification: Mapped[str | None] = mapped_column(Text)  # why a line goes beyond 100 % or backwards
    etat_acompte_id: Mapped[int | None] = mapped_column(ForeignKey("etat_acompte.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    piece: Mapped[Piece] = relationship(lazy="raise")
    party: Mapped[MarcheParty] = relationship(lazy="raise")
    lines: Mapped[list[DecompteLine]] = relationship(back_populates="decompte", lazy="raise",
                                                     order_by="DecompteLine.id")


class DecompteLine(Base):
    """One price line of a projet de décompte, cumulative: a quantity (unit-price line) or a percentage of progress
    (lump-sum line), valued at base prices; and what the MOE admits."""

    __tablename__ = "decompte_line"
    __table_args__ = (
        UniqueConstraint("decompte_id", "price_line_id", name="uq_decompte_line_decompte_price_line"),
        CheckConstraint("quantity IS NOT NULL OR percent IS NOT NULL", name="measure"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    decompte_id: Mapped[int] = mapped_column(ForeignKey("decompte.id"), index=True)
    price_line_id: Mapped[int] = mapped_column(ForeignKey("price_line.id"))
    quantity: Mapped[Decimal | None] = mapped_column(Quantity)  # cumulative quantity executed
    percent: Mapped[Decimal | None] = mapped_column(Percent)  # cumulative progress of a lump-sum line, in %
    amount_ht: Mapped[Decimal] = mapped_column(Money)  # claimed, cumulative, rounded once
    justification: Mapped[str | None] = mapped_column(String(500))
    admitted_quantity: Mapped[Decimal | None] = mapped_column(Quantity)
    admitted_percent: Mapped[Decimal | None] = mapped_column(Percent)
    admitted_amount_ht: Mapped[Decimal | None] = mapped_column(Money)
    moe_comment: Mapped[str | None] = mapped_column(String(500))

    decompte: Mapped[Decompte] = relationship(back_populates="lines", lazy="raise")
    price_line: Mapped[PriceLine] = relationship(lazy="raise")

    @property
    def admitted(self) -> Decimal:
        """What the MOE admits: its corrected amount, or the claimed one while it has not corrected the line."""
        return self.admitted_amount_ht if self.admitted_amount_ht is not None else self.amount_ht

    @property
    def difference(self) -> Decimal:
        """Admitted − claimed (negative when the MOE admitted less)."""
        return self.admitted - self.amount_ht


class EtatAcompte(Base):
    """The état d'acompte n of a marché, built by its MOE from the projets de décompte of the month. A draft is
    recomputed at will; once issued, `result` (the engine's `EtatAcompte.to_dict()`, which carries the cumulative
    state the next état starts from) never changes.

    Issued, it travels as a piece of cadre A15 (`piece_id`) to the MOA, who validates it (`validated_at`, the A19
    `validated_piece_id` to the paying office, and its payable lines) or returns it (`status` "returned", with the
    reason): the MOE then issues it again under the same number with a suffix (`suffix` 1 = « bis »,
    `replaces_id` the returned one). A returned état keeps its frozen result for the record but counts no more."""

    __tablename__ = "etat_acompte"
    __table_args__ = (
        UniqueConstraint("marche_id", "number", "suffix", name="uq_etat_acompte_marche_number_suffix"),
        CheckConstraint(check_in("status", ETAT_STATUSES), name="status"),
        CheckConstraint("number >= 1", name="number"),
        CheckConstraint(f"suffix >= 0 AND suffix < {len(ETAT_SUFFIXES)}", name="suffix"),
        CheckConstraint("length(month) = 7", name="month"),
        CheckConstraint("status = 'returned' OR return_reason IS NULL", name="return_reason"),
        CheckConstraint("status <> 'returned' OR return_reason IS NOT NULL", name="returned_with_reason"),
        # The MOE's états in preparation (the Tableau de bord: dashboard.etats_by_marche): a marché's drafts, not its
        # history of états (migration 0037).
        Index("ix_etat_acompte_draft", "marche_id", postgresql_where=text("status = 'draft'"),
              sqlite_where=text("status = 'draft'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    marche_id: Mapped[int] = mapped_column(ForeignKey("marche.id"), index=True)
    number: Mapped[int]
    month: Mapped[str] = mapped_column(String(7))
    final: Mapped[bool] = mapped_column(default=False)  # the état of the décompte général
    status: Mapped[str] = mapped_column(String(10), default="draft")
    result: Mapped[dict | None] = mapped_column(JSON)  # frozen at issue
    issued_at: Mapped[datetime | None]
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    contest_until: Mapped[date | None]  # the titulaire's 30 days to contest the MOE's corrections
    created_by_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    suffix: Mapped[int] = mapped_column(default=0)  # 0: the first issue; 1 « bis », 2 « ter »…
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("etat_acompte.id"))  # the returned état it re-issues
    piece_id: Mapped[int | None] = mapped_column(ForeignKey("piece.id"))  # the A15 deposited at issue
    validated_piece_id: Mapped[int | None] = mapped_column(ForeignKey("piece.id"))  # the MOA's A19
    validated_at: Mapped[datetime | None]
    validated_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    returned_at: Mapped[datetime | None]
    returned_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    return_reason: Mapped[str | None] = mapped_column(String(1000))

    marche: Mapped[Marche] = relationship(lazy="raise")
    issued_by: Mapped[Account | None] = relationship(foreign_keys=[issued_by_id], lazy="raise")

    @property
    def label(self) -> str:
        """« 4 », « 4 bis »: the number as people say it (the état issued again after a return is never confused
        with the returned one)."""
        return f"{self.number} {ETAT_SUFFIXES[self.suffix]}".strip()

    @property
    def validated(self) -> bool:
        return self.validated_at is not None

    @property
    def moa_state(self) -> str:
        """Where the état stands on the public side: draft, waiting for the MOA, validated or returned."""
        if self.status == "draft":
            return "draft"
        if self.status == "returned":
            return "returned"
        return "validated" if self.validated_at is not None else "waiting_moa"


class MarchePenalty(Base):
    """A penalty the MOE applies to a beneficiary in an état d'acompte: days late (at the marché's daily rate) or a
    fixed amount set by the CCAP. Cumulative: every état counts all the penalties applied up to it."""

    __tablename__ = "marche_penalty"
    __table_args__ = (
        CheckConstraint("(days IS NULL) <> (amount IS NULL)", name="days_or_amount"),
        CheckConstraint("days IS NULL OR days >= 0", name="days"),
        CheckConstraint("amount IS NULL OR amount >= 0", name="amount"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    marche_id: Mapped[int] = mapped_column(ForeignKey("marche.id"), index=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("marche_party.id"))
    etat_acompte_id: Mapped[int] = mapped_column(ForeignKey("etat_acompte.id"))
    label: Mapped[str] = mapped_column(String(200))
    days: Mapped[int | None]
    amount: Mapped[Decimal | None] = mapped_column(Money)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IndexValue(Base):
    """The value of the marché's revision index for one month, as the MOE enters it: provisional until the
    definitive value is published (a change of value trues up the revision in the next état)."""

    __tablename__ = "index_value"
    __table_args__ = (
        UniqueConstraint("marche_id", "month", name="uq_index_value_marche_month"),
        CheckConstraint("value > 0", name="value"),
        CheckConstraint("length(month) = 7", name="month"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    marche_id: Mapped[int] = mapped_column(ForeignKey("marche.id"), index=True)
    month: Mapped[str] = mapped_column(String(7))
    value: Mapped[Decimal] = mapped_column(IndexNumber)
    definitive: Mapped[bool] = mapped_column(default=False)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class InterestRate(Base):
    """The ECB main refinancing rate from a date on (reference data shared by every marché, editable by an operator:
    `flask rates`). Seeded by migration 0005 with the real rates."""

    __tablename__ = "interest_rate"

    id: Mapped[int] = mapped_column(primary_key=True)
    effective_from: Mapped[date] = mapped_column(unique=True)
    rate_percent: Mapped[Decimal] = mapped_column(Numeric(6, 3))
    source: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
