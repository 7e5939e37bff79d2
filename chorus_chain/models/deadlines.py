"""Deadlines as rows (DESIGN.md §3.3): a due instant, applied once by the sweep (`operations.deadlines.sweep`).

Never a timer held only in Redis: a restarted worker loses nothing, and two sweepers never act twice (row locks with
SKIP LOCKED on PostgreSQL, `done_at` set in the same transaction as the change it makes).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from chorus_chain.models.base import Base, check_in, utcnow

# The kinds of deadline the sweep knows how to apply. A later issue adds the pieces' kinds (validation_1, moe...).
DEADLINE_KINDS = (
    "dc4_acceptance",  # the buyer's silence on a DC4 for 21 days = acceptance [sure]
)


class Deadline(Base):
    __tablename__ = "deadline"
    __table_args__ = (
        CheckConstraint(check_in("kind", DEADLINE_KINDS), name="kind"),
        # What the sweep reads: the open deadlines, by due instant.
        Index("ix_deadline_open_due", "done_at", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    due_at: Mapped[datetime]
    done_at: Mapped[datetime | None]  # applied by the sweep, or made moot (the decision came in time)
    marche_party_id: Mapped[int | None] = mapped_column(ForeignKey("marche_party.id"), index=True)
    piece_id: Mapped[int | None]  # for the pieces of a later issue (its foreign key comes with its table)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
