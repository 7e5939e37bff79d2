"""Deadlines as rows (DESIGN.md §3.3): a due instant, applied once by the sweep (`operations.deadlines.sweep`).

Never a timer held only in Redis: a restarted worker loses nothing, and two sweepers never act twice (row locks with
SKIP LOCKED on PostgreSQL, `done_at` set in the same transaction as the change it makes).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from chorus_chain.domain.deadlines import DEADLINE_KINDS
from chorus_chain.models.base import Base, check_in, utcnow

# The kinds of deadline (domain.deadlines.DEADLINES): the DC4's 21 days ("dc4_acceptance") and the clocks of a
# piece (validation_1, validation_2, moe, paiement, contest_moe_corrections, tacit_dgd, dg_signature,
# interets_moratoires).
__all__ = ["DEADLINE_KINDS", "ClockState", "Deadline"]


class Deadline(Base):
    __tablename__ = "deadline"
    __table_args__ = (
        CheckConstraint(check_in("kind", DEADLINE_KINDS), name="kind"),
        # What the sweep reads: the open deadlines in its order (due instant, id), the next batch under a limit.
        Index("ix_deadline_open_due", "due_at", "id", postgresql_where=text("done_at IS NULL"),
              sqlite_where=text("done_at IS NULL")),
        # A piece has at most one open clock of each kind — but one interest clock per late payment: two partial
        # payments of the same line, both late, each owe their interest and their 40 € within their own 45 days.
        Index("ux_deadline_open_piece_kind", "piece_id", "kind", unique=True,
              postgresql_where=text("done_at IS NULL AND piece_id IS NOT NULL AND line_payment_id IS NULL"),
              sqlite_where=text("done_at IS NULL AND piece_id IS NOT NULL AND line_payment_id IS NULL")),
        # A late payment has one interest clock, ever.
        Index("ux_deadline_line_payment", "line_payment_id", unique=True,
              postgresql_where=text("line_payment_id IS NOT NULL"),
              sqlite_where=text("line_payment_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    due_at: Mapped[datetime]
    done_at: Mapped[datetime | None]  # applied by the sweep, or made moot (the decision came in time)
    marche_party_id: Mapped[int | None] = mapped_column(ForeignKey("marche_party.id"), index=True)
    piece_id: Mapped[int | None] = mapped_column(ForeignKey("piece.id"), index=True)
    # The late payment whose interest the INTERETS clock is about (its piece: the payee's projet de décompte).
    line_payment_id: Mapped[int | None] = mapped_column(ForeignKey("line_payment.id"))
    # The reminders already sent (days before due_at): each is sent once.
    reminders_sent: Mapped[list] = mapped_column(JSON, default=list, server_default=text("'[]'"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)  # the clock's start


class ClockState(Base):
    """Where a clock process stands (`flask deadlines clock`): the instant it swept up to, and when it last ran.

    `flask deadlines sweep --now` refuses an instant before `swept_to` (the law's clocks never run backwards), and
    /healthz says the clock is late when `ran_at` is old."""

    __tablename__ = "clock_state"

    name: Mapped[str] = mapped_column(String(30), primary_key=True)  # "deadlines"
    swept_to: Mapped[datetime]
    ran_at: Mapped[datetime]
