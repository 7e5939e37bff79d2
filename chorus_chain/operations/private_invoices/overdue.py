"""The private invoices of a structure unpaid past their due date (C. com. L. 441-10), for the Synthèse and the
Tableau de bord of both companies: the one that issued it (it is owed) and the one that must pay it.

Read under the structure's tenant: only the pieces it sees are read. Read-only.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select

from chorus_chain.domain import commercial_terms as commercial
from chorus_chain.domain.statuses import Status
from chorus_chain.extensions import db
from chorus_chain.models import Piece, Structure

UNPAID = (Status.TRANSMISE_CONTRACTANT.value, Status.ACCEPTEE_CONTRACTANT.value)


@dataclass(frozen=True)
class Overdue:
    piece: Piece
    due: date
    days: int
    owed_to_us: bool  # True: we issued it and are owed; False: we must pay it
    emitter_name: str

    @property
    def amount(self):
        return self.piece.accepted_amount if self.piece.accepted_amount is not None else self.piece.montant_ttc


@dataclass(frozen=True)
class Due:
    due: date
    days: int  # days past the due date, 0 when not yet due or paid


def due_of(piece: Piece, today: date) -> Due | None:
    """A sent private invoice's due date (the default term of L. 441-10: 30 days from the invoice date) and, unpaid
    past it, by how many days it is late (its page); None for a piece of a cadre or a draft."""
    if piece.cadre is not None or piece.issue_date is None or piece.deposited_at is None:
        return None
    due = commercial.due_date(piece.issue_date)
    return Due(due, commercial.days_overdue(due, today, paid=piece.status not in UNPAID))


def overdue_for(structure: Structure, today: date, limit: int = 20) -> list[Overdue]:
    """The structure's private invoices, issued or received, unpaid after their due date: most overdue first."""
    latest_issue = today - timedelta(days=commercial.DEFAULT_DAYS)
    rows = db.session.execute(  # the emitter's name with each piece: one statement, not one more per row
        select(Piece, Structure.name).join(Structure, Structure.id == Piece.emitter_structure_id)
        .where(Piece.cadre.is_(None), Piece.status.in_(UNPAID), Piece.issue_date < latest_issue)
        .order_by(Piece.issue_date, Piece.id).limit(limit * 4))
    found = []
    for piece, emitter_name in rows:
        ours = piece.emitter_structure_id == structure.id
        pays = any(step.get("structure_id") == structure.id for step in piece.route or ())
        if not (ours or pays):
            continue
        due = commercial.due_date(piece.issue_date)
        days = commercial.days_overdue(due, today, paid=False)
        if days > 0:
            found.append(Overdue(piece, due, days, ours, emitter_name))
    return found[:limit]
