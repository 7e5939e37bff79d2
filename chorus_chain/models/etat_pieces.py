"""The état d'acompte as documents (issue 12): the projets de décompte an issued état covers, and what the paying
office pays on a validated état — one payable line per payee, each with its payments.

- `EtatAcomptePdm`: the link between an issued état and every PDM piece it covers. It stays when the MOA returns the
  état (the history says which pieces état n° 4 carried), while `Decompte.etat_acompte_id` follows the état that
  counts now (n° 4 bis).
- `PayableLine`: written when the MOA validates the état, one per payee of the engine's result (titulaire or
  mandataire, each co-traitant, each sous-traitant in paiement direct), carrying the engine's figure for this acompte
  — never a figure of its own — and the payee's bank account as it was. Its DGP started when the MOE received the
  first projet de décompte whose money it carries (`dgp_started_on`, a legal instant: frozen at validation).
- `LinePayment`: one payment on a line (partial allowed), with the late-payment interest the engine computed for
  it. The lines' `paid_amount` is the sum of its payments and never exceeds the line (CHECK).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from chorus_chain.domain.deadlines import DEADLINES, INTERETS
from chorus_chain.models.base import Base, utcnow

INTEREST_PAYMENT_DAYS = DEADLINES[INTERETS].days

Money = Numeric(14, 2)


class EtatAcomptePdm(Base):
    __tablename__ = "etat_acompte_pdm"
    __table_args__ = (
        UniqueConstraint("etat_acompte_id", "piece_id", name="uq_etat_acompte_pdm_etat_piece"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    etat_acompte_id: Mapped[int] = mapped_column(ForeignKey("etat_acompte.id"), index=True)
    piece_id: Mapped[int] = mapped_column(ForeignKey("piece.id"), index=True)
    payee_party_id: Mapped[int | None] = mapped_column(ForeignKey("marche_party.id"))  # whose line pays it
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PayableLine(Base):
    __tablename__ = "payable_line"
    __table_args__ = (
        UniqueConstraint("etat_acompte_id", "payee_party_id", name="uq_payable_line_etat_payee"),
        CheckConstraint("paid_amount >= 0", name="paid_amount"),
        CheckConstraint("paid_amount <= CASE WHEN amount > 0 THEN amount ELSE 0 END", name="not_over_line"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    etat_acompte_id: Mapped[int] = mapped_column(ForeignKey("etat_acompte.id"), index=True)
    marche_id: Mapped[int] = mapped_column(ForeignKey("marche.id"), index=True)
    payee_party_id: Mapped[int] = mapped_column(ForeignKey("marche_party.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(15))
    amount: Mapped[Decimal] = mapped_column(Money)  # the engine's payable "this" for the payee (≤ 0: nothing to pay)
    beneficiary_keys: Mapped[list] = mapped_column(JSON, default=list)  # the beneficiaries whose amounts it carries
    bank_account_id: Mapped[int | None] = mapped_column(ForeignKey("bank_account.id"))
    iban: Mapped[str | None] = mapped_column(String(34))
    bic: Mapped[str | None] = mapped_column(String(11))
    dgp_started_on: Mapped[date]
    due_on: Mapped[date]  # the last day it may be paid without interest
    service_fait_on: Mapped[date | None]
    mandated_on: Mapped[date | None]
    paid_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    paid_on: Mapped[date | None]  # the day it was paid in full
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    payments: Mapped[list[LinePayment]] = relationship(back_populates="line", lazy="raise",
                                                       order_by="LinePayment.id")

    @property
    def payable(self) -> bool:
        return self.amount > 0

    @property
    def remaining(self) -> Decimal:
        return max(self.amount, Decimal("0.00")) - self.paid_amount

    @property
    def iban_masked(self) -> str | None:
        return None if not self.iban else f"{self.iban[:4]} •••• •••• {self.iban[-4:]}"

    @property
    def state(self) -> str:
        if not self.payable:
            return "nothing_due"
        if self.paid_on is not None:
            return "paid"
        if self.paid_amount > 0:
            return "partly_paid"
        if self.mandated_on is not None:
            return "mandated"
        if self.service_fait_on is not None:
            return "service_fait"
        return "to_pay"


class LatePaymentRules:
    """What a late payment answers from its stored figures, for the model and for the plain rows the interest panels
    read instead of it (`interets.reading.DuePayment`): written once."""

    __slots__ = ()

    @property
    def late_total(self) -> Decimal:
        """What the delay of this payment costs the buyer: the engine's interest + the 40 € flat fee."""
        return self.interest + self.flat_fee

    @property
    def interest_last_day(self) -> date:
        """The last day the buyer may pay `late_total` (R2192-36: 45 days after the principal's payment)."""
        return self.paid_on + timedelta(days=INTEREST_PAYMENT_DAYS)


class LinePayment(LatePaymentRules, Base):
    __tablename__ = "line_payment"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount"),
        CheckConstraint("interest >= 0 AND flat_fee >= 0", name="interest"),
        CheckConstraint("interest_paid_on IS NULL OR (interest + flat_fee > 0 AND interest_paid_on >= paid_on)",
                        name="interest_paid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("payable_line.id"), index=True)
    paid_on: Mapped[date]
    amount: Mapped[Decimal] = mapped_column(Money)
    days_late: Mapped[int] = mapped_column(default=0)
    rate_percent: Mapped[Decimal | None] = mapped_column(Numeric(6, 3))
    interest: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    flat_fee: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    explanation: Mapped[dict | None] = mapped_column(JSON)  # the engine's LatePaymentInterest.to_dict()
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The buyer paid the interest and the flat fee of this late payment (R2192-36: within 45 days of the payment),
    # at the engine's figure above — never another amount. Null while they are still due.
    interest_paid_on: Mapped[date | None]
    interest_paid_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    interest_paid_at: Mapped[datetime | None]

    line: Mapped[PayableLine] = relationship(back_populates="payments", lazy="raise")
