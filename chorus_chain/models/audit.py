"""Append-only record of sensitive changes to a structure (bank details, rights, gestionnaire hand-over)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from chorus_chain.models.accounts import Account
from chorus_chain.models.base import Base, utcnow


class StructureEvent(Base):
    __tablename__ = "structure_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    structure_id: Mapped[int] = mapped_column(ForeignKey("structure.id"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))  # None: the system
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(60))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)

    account: Mapped[Account | None] = relationship(lazy="raise")
