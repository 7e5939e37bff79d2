"""Requests to answer an invitation from another account than the one it was sent to (issue 13).

An invitation link answers only the account it was sent to. Anyone else who opens it — a colleague, the company's new
accountant — may ask the inviter to let its structure (of the invited SIRET, of which it is a member) take the
invitation: a pending request, which the inviting structure's gestionnaire principal approves (the invitation is then
linked to the requester's structure, to be confirmed there) or refuses (nothing changes)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from chorus_chain.models.accounts import Account
from chorus_chain.models.base import Base, utcnow
from chorus_chain.models.marches import MarcheParty
from chorus_chain.models.structures import Structure

INVITATION_REQUEST_STATUSES = ("pending", "approved", "refused")


class InvitationRequest(Base):
    __tablename__ = "invitation_request"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'approved', 'refused')", name="status"),
        Index("ix_invitation_request_inviter_status", "inviter_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("marche_party.id", ondelete="CASCADE"), index=True)
    inviter_id: Mapped[int] = mapped_column(ForeignKey("structure.id"))  # the structure that decides
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))  # who asks
    structure_id: Mapped[int] = mapped_column(ForeignKey("structure.id"))  # the structure that would take the role
    message: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(10), default="pending")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))

    party: Mapped[MarcheParty] = relationship(lazy="joined")
    account: Mapped[Account] = relationship(lazy="joined", foreign_keys=[account_id])
    structure: Mapped[Structure] = relationship(lazy="joined", foreign_keys=[structure_id])
