"""The assistant's conversations and the live chat with an agent (issue 18).

- `Conversation`: one member of one structure talking to the assistant, then (in one click) to an agent. Its status:
  "assistant" (the assistant answers), "waiting" (handed over, in the operators' console), "active" (an operator
  took it: only that operator answers), "closed", "ticket" (no agent was available: it became the support ticket
  `ticket_id`, its transcript in the ticket's first message). The page and the piece the user was on when handing
  over are kept for the operator (the piece only if the structure may see it).
- `ConversationMessage`: the transcript, in order — the user's questions, the assistant's answers (with their kind and
  links), the operator's messages, and the system's notes (« Un agent a rejoint la conversation »). The database is
  the truth: the panel, the console and the event streams all read it, so a reload or a second agent loses nothing.
  `failed` marks a user's question the assistant could not answer: the operators' list of articles to write.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from chorus_chain.models.accounts import Account
from chorus_chain.models.base import Base, check_in, utcnow
from chorus_chain.models.structures import Structure

CONVERSATION_STATUSES = ("assistant", "waiting", "active", "closed", "ticket")
CONVERSATION_STATUS_LABELS = {"assistant": "Avec l'assistant", "waiting": "En attente d'un agent",
                              "active": "Avec un agent", "closed": "Terminée", "ticket": "Transformée en demande"}
AUTHORS = ("user", "assistant", "operator", "system")
MAX_MESSAGE = 2000  # characters of one message, either side


class Conversation(Base):
    __tablename__ = "conversation"
    __table_args__ = (
        CheckConstraint(check_in("status", CONVERSATION_STATUSES), name="status"),
        CheckConstraint("status NOT IN ('active') OR operator_id IS NOT NULL", name="active_has_operator"),
        Index("ix_conversation_member", "structure_id", "account_id", "id"),
        Index("ix_conversation_status", "status", "handed_over_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    structure_id: Mapped[int] = mapped_column(ForeignKey("structure.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    status: Mapped[str] = mapped_column(String(10), default="assistant")
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    page_url: Mapped[str | None] = mapped_column(String(500))
    piece_id: Mapped[int | None] = mapped_column(ForeignKey("piece.id"))
    piece_number: Mapped[str | None] = mapped_column(String(20))  # read at the hand-over, under the member's tenant
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    handed_over_at: Mapped[datetime | None]
    taken_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]

    structure: Mapped[Structure] = relationship(lazy="raise")
    account: Mapped[Account] = relationship(foreign_keys=[account_id], lazy="raise")
    operator: Mapped[Account | None] = relationship(foreign_keys=[operator_id], lazy="raise")

    @property
    def is_open(self) -> bool:
        return self.status in ("assistant", "waiting", "active")

    @property
    def with_agent(self) -> bool:
        return self.status in ("waiting", "active")


class ConversationMessage(Base):
    __tablename__ = "conversation_message"
    __table_args__ = (
        CheckConstraint(check_in("author", AUTHORS), name="author"),
        Index("ix_conversation_message_conversation", "conversation_id", "id"),
        Index("ix_conversation_message_failed", "failed", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id"))
    author: Mapped[str] = mapped_column(String(10))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    body: Mapped[str] = mapped_column(Text)
    kind: Mapped[str | None] = mapped_column(String(10))  # the assistant's answer kind (replies.ANSWERED...)
    links: Mapped[list | None] = mapped_column(JSON)  # [[label, path], ...] of an assistant's answer
    failed: Mapped[bool] = mapped_column(default=False)  # a user's question the assistant did not know
    at: Mapped[datetime] = mapped_column(default=utcnow)

    conversation: Mapped[Conversation] = relationship(lazy="raise")
    account: Mapped[Account | None] = relationship(lazy="raise")
