"""Contests of a structure's registration (issue 13): a company says a structure was registered for its SIRET by
someone else. The first account to register a SIRET becomes its gestionnaire principal (as on Chorus Pro); a
contest goes to the operators' support queue, and their decision is recorded here and in the structure's journal."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from chorus_chain.models.accounts import Account
from chorus_chain.models.base import Base, utcnow
from chorus_chain.models.structures import Structure

CONTEST_STATUSES = ("open", "upheld", "rejected")
CONTEST_STATUS_LABELS = {"open": "En attente de décision", "upheld": "Contestation retenue",
                         "rejected": "Contestation écartée"}


class StructureContest(Base):
    __tablename__ = "structure_contest"
    __table_args__ = (CheckConstraint("status IN ('open', 'upheld', 'rejected')", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    structure_id: Mapped[int] = mapped_column(ForeignKey("structure.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="open")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    decision: Mapped[str | None] = mapped_column(Text)

    structure: Mapped[Structure] = relationship(lazy="joined")
    account: Mapped[Account] = relationship(lazy="joined", foreign_keys=[account_id])
