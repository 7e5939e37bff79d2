"""E-mails and the job outbox.

An operation that needs work done after its change (an e-mail, a PDF, a webhook) adds an OutboxJob row — a job kind
and a payload of ids — in the same transaction; after the commit a dispatcher enqueues it (rq, or inline in the
embedded default). A rolled-back change sends nothing. The row is the truth until its job **succeeded**
(`jobs.outbox`): the job claims it with a lease, marks it done only after its effect is durable, and a failure puts
it back (`pending`, retried with backoff) or, after the last try, `failed` for the operators to replay. A job Redis
lost, or whose work horse was killed, is found again by the dispatcher (`jobs.queue.dispatch_outbox`).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from chorus_chain.models.base import Base, check_in, utcnow

OUTBOX_STATUSES = ("pending", "done", "failed")


class MailMessage(Base):
    __tablename__ = "mail_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    to_address: Mapped[str] = mapped_column(String(254), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    # Queued with its template and context (plain values: `operations.mail.freeze`); the job renders the subject and
    # the body before sending, so a deposit does not render e-mails inside its request. Rendered at once (template
    # None) when the context holds something that is not a plain value.
    template: Mapped[str | None] = mapped_column(String(60))
    context: Mapped[dict | None] = mapped_column(JSON)
    subject: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    transport: Mapped[str | None] = mapped_column(String(10))  # "smtp" or "log"
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))


class OutboxJob(Base):
    __tablename__ = "outbox_job"
    __table_args__ = (
        CheckConstraint(check_in("status", OUTBOX_STATUSES), name="status"),
        # What the dispatcher reads: the pending rows, by the instant they may run.
        Index("ix_outbox_job_due", "status", "available_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(100))  # a kind of jobs.queue.JOBS ("send_mail", "render_document"...)
    payload: Mapped[dict] = mapped_column(JSON, default=dict)  # ids only, never ORM objects
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(10), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")  # claims so far
    available_at: Mapped[datetime] = mapped_column(default=utcnow)  # not run before (the backoff after a failure)
    lease_until: Mapped[datetime | None]  # claimed by a running job until then; expired: its worker died
    dispatched_at: Mapped[datetime | None]  # last handed to rq (None: to hand over)
    rq_job_id: Mapped[str | None] = mapped_column(String(64))  # the rq job of the last hand-over
    last_error: Mapped[str | None] = mapped_column(String(500))
    finished_at: Mapped[datetime | None]  # done or given up
