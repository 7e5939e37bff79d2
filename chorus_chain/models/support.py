"""Support tickets: a user of a structure asks for help (the page, the piece and the structure attached), platform
operators (`Account.is_operator`) answer, categorise and close. Tenancy: a ticket belongs to one structure."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from chorus_chain.models.accounts import Account
from chorus_chain.models.base import Base, check_in, utcnow
from chorus_chain.models.structures import Structure

TICKET_STATUSES = ("open", "answered", "closed")
TICKET_STATUS_LABELS = {"open": "En attente d'une réponse", "answered": "Répondu", "closed": "Clos"}
TICKET_CATEGORIES = ("compte", "structure", "marche", "piece", "paiement", "reforme", "autre")
TICKET_CATEGORY_LABELS = {"compte": "Compte et connexion", "structure": "Structure et collègues",
                          "marche": "Marché et sous-traitance", "piece": "Pièces et statuts",
                          "paiement": "Paiement et délais", "reforme": "Facturation électronique", "autre": "Autre"}
MAX_ATTACHMENT = 2 * 1024 * 1024


class Ticket(Base):
    __tablename__ = "ticket"
    __table_args__ = (
        CheckConstraint(check_in("status", TICKET_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    structure_id: Mapped[int] = mapped_column(ForeignKey("structure.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    subject: Mapped[str] = mapped_column(String(200))
    page_url: Mapped[str | None] = mapped_column(String(500))
    piece_id: Mapped[int | None] = mapped_column(ForeignKey("piece.id"))
    category: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10), default="open")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    structure: Mapped[Structure] = relationship(lazy="joined")
    account: Mapped[Account] = relationship(lazy="joined")
    messages: Mapped[list[TicketMessage]] = relationship(back_populates="ticket", order_by="TicketMessage.id",
                                                          lazy="selectin")


class TicketMessage(Base):
    __tablename__ = "ticket_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    from_operator: Mapped[bool] = mapped_column(default=False)
    body: Mapped[str] = mapped_column(Text)
    attachment_name: Mapped[str | None] = mapped_column(String(200))
    attachment_data: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)

    ticket: Mapped[Ticket] = relationship(back_populates="messages")
    account: Mapped[Account] = relationship(lazy="joined")
