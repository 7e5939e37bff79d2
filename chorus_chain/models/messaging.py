"""E-mails and the job outbox.

An operation that needs work done after its change (an e-mail, a PDF) adds an OutboxJob row in the same transaction;
after the commit a dispatcher enqueues it (rq, or inline in the embedded default). A rolled-back change sends nothing;
a committed one loses nothing even if Redis was down: undispatched rows are picked up again by `flask outbox dispatch`
and the periodic sweep.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from chorus_chain.models.base import Base, utcnow


class MailMessage(Base):
    __tablename__ = "mail_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    to_address: Mapped[str] = mapped_column(String(254), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    transport: Mapped[str | None] = mapped_column(String(10))  # "smtp" or "log"
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))


class OutboxJob(Base):
    __tablename__ = "outbox_job"
    __table_args__ = (Index("ix_outbox_job_pending", "dispatched_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(100))  # dotted name of a function in chorus_chain.jobs
    payload: Mapped[dict] = mapped_column(JSON, default=dict)  # ids only, never ORM objects
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    dispatched_at: Mapped[datetime | None]
