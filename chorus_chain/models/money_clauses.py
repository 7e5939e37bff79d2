"""The marché's clauses on the retenue and the advance that real contracts set per company (issue 16, part B):

- `RetenueGuarantee`: a garantie à première demande or a caution personnelle et solidaire replacing the retenue de
  garantie of one beneficiary, from its date, for an amount of retenue (NULL: the whole of it) — R2191-36;
- `AvanceRepaymentAmount`: a schedule of fixed amounts of one beneficiary's advance to deduct, by month of décompte
  (the marché's own pace, R2191-11), instead of the linear schedule.

A sous-traitant's refusal of its advance is a column of its party row (`MarcheParty.avance_declined`), the pace's
start and basis columns of the marché (`Marche.avance_repayment_start`, `Marche.avance_repayment_basis`).
Each change is journalled as a `MarcheEvent` (operations.money_clauses).
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from chorus_chain.models.base import Base, check_in, utcnow
from chorus_chain.models.marches import Money

GUARANTEE_KINDS = ("gapd", "caution")


class RetenueGuarantee(Base):
    __tablename__ = "retenue_guarantee"
    __table_args__ = (
        CheckConstraint(check_in("kind", GUARANTEE_KINDS), name="kind"),
        CheckConstraint("amount IS NULL OR amount > 0", name="amount"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    marche_id: Mapped[int] = mapped_column(ForeignKey("marche.id"), index=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("marche_party.id"))  # the beneficiary it covers
    kind: Mapped[str] = mapped_column(String(10))
    given_on: Mapped[date]
    amount: Mapped[Decimal | None] = mapped_column(Money)  # of retenue replaced; NULL: the whole of it
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AvanceRepaymentAmount(Base):
    __tablename__ = "avance_repayment_amount"
    __table_args__ = (
        UniqueConstraint("party_id", "month", name="party_month"),
        CheckConstraint("amount > 0", name="amount"),
        CheckConstraint("length(month) = 7", name="month"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    marche_id: Mapped[int] = mapped_column(ForeignKey("marche.id"), index=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("marche_party.id"))
    month: Mapped[str] = mapped_column(String(7))  # "YYYY-MM": the décompte's month
    amount: Mapped[Decimal] = mapped_column(Money)
