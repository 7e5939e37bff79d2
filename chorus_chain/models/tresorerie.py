"""The Trésorerie's memory of what it told each structure (issue 19): the expected day of each receipt, the reference
a slip is measured from. One row per structure and amount expected in; gone once the amount is no longer expected
(paid, refused)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from chorus_chain.models.base import Base, utcnow


class ExpectedReceipt(Base):
    __tablename__ = "expected_receipt"
    __table_args__ = (UniqueConstraint("structure_id", "flow_key", name="uq_expected_receipt_structure_flow"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    structure_id: Mapped[int] = mapped_column(ForeignKey("structure.id"), index=True)
    flow_key: Mapped[str] = mapped_column(String(60))  # `Flow.key`: « piece:12 », « line:7 », « etat:3:41 »
    label: Mapped[str] = mapped_column(String(200))
    expected_on: Mapped[date]  # the reference: first seen, or last announced, or an earlier date since
    notified_at: Mapped[datetime | None]  # the last time a slip of this amount was announced
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
