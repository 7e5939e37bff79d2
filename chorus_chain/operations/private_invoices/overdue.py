"""The private invoices of a structure unpaid past their due date (C. com. L. 441-10), for the Synthèse and the
Tableau de bord of both companies: the one that issued it (it is owed) and the one that must pay it.

Read under the structure's tenant: only the pieces it sees are read. Read-only.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache

from sqlalchemy import Date, Integer, bindparam, select

from chorus_chain.domain import commercial_terms as commercial
from chorus_chain.domain.statuses import Status
from chorus_chain.extensions import db
from chorus_chain.models import MarcheParty, Piece, Structure
from chorus_chain.models.board import BoardRow

UNPAID = (Status.TRANSMISE_CONTRACTANT.value, Status.ACCEPTEE_CONTRACTANT.value)


@dataclass(frozen=True)
class OverduePiece:
    """What the lists show of an overdue invoice (its link, its number, its amounts): read as columns, not as a
    `Piece` entity — a dashboard reads up to eighty candidates to keep twenty."""

    id: int
    number: str
    montant_ttc: Decimal
    accepted_amount: Decimal | None


@dataclass(frozen=True)
class Overdue:
    piece: OverduePiece
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
    term: commercial.Term = commercial.Term()


def terms_of(party_ids) -> dict[int, commercial.Term]:
    """The payment term each emitting party agreed with its contractor (L. 441-10), one query."""
    ids = sorted(set(party_ids))
    if not ids:
        return {}
    return {party_id: commercial.Term.agreed(days, end_of_month) for party_id, days, end_of_month in
            db.session.execute(select(MarcheParty.id, MarcheParty.commercial_term_days,
                                      MarcheParty.commercial_term_end_of_month).where(MarcheParty.id.in_(ids)))}


def term_of(piece: Piece) -> commercial.Term:
    """The term of one private invoice: the one its emitter agreed with its contractor, or the legal 30 days."""
    return terms_of([piece.emitter_party_id]).get(piece.emitter_party_id, commercial.Term())


def due_of(piece: Piece, today: date) -> Due | None:
    """A sent private invoice's due date (the term its emitter agreed with its contractor, within L. 441-10, or the
    legal 30 days from the invoice date) and, unpaid past it, by how many days it is late (its page); None for a
    piece of a cadre or a draft."""
    if piece.cadre is not None or piece.issue_date is None or piece.deposited_at is None:
        return None
    term = term_of(piece)
    due = term.due(piece.issue_date)
    return Due(due, commercial.days_overdue(due, today, paid=piece.status not in UNPAID), term)


def overdue_for(structure: Structure, today: date, limit: int = 20) -> list[Overdue]:
    """The structure's private invoices, issued or received, unpaid after their due date: most overdue first."""
    # The shortest agreed term is one day: only invoices dated before yesterday can be late.
    latest_issue = today - timedelta(days=1)
    # The structure's unpaid private invoices are its rows of the dashboards' read model in those statuses (the
    # status index of board_row: what is unpaid now, not every unpaid private invoice of the platform probed for
    # visibility — issue 20), with the emitter's name the row carries; then their pieces by primary key.
    rows = db.session.execute(_candidates(), {"structure_id": structure.id, "latest_issue": latest_issue,
                                              "limit": limit * 4}).all()
    found = []
    for (piece_id, number, montant_ttc, accepted_amount, issue_date, emitter_structure_id, route, emitter_name,
         term_days, end_of_month) in rows:
        ours = emitter_structure_id == structure.id
        pays = any(step.get("structure_id") == structure.id for step in route or ())
        if not (ours or pays):
            continue
        due = commercial.Term.agreed(term_days, end_of_month).due(issue_date)
        days = commercial.days_overdue(due, today, paid=False)
        if days > 0:
            found.append(Overdue(OverduePiece(piece_id, number, montant_ttc, accepted_amount), due, days, ours,
                                 emitter_name))
    return found[:limit]


@lru_cache(maxsize=1)
def _candidates():
    """The statement of `overdue_for`'s candidates, its values bound at execution: built once per process (building
    it was as costly as running it, on every Synthèse and Tableau de bord). The tenant's criteria are added to it at
    each execution, and row-level security applies."""
    structure_id = bindparam("structure_id", type_=Integer)
    candidates = (select(Piece.id, Piece.number, Piece.montant_ttc, Piece.accepted_amount, Piece.issue_date,
                         Piece.emitter_structure_id, Piece.route, Piece.emitter_party_id, BoardRow.emitter_name)
                  .select_from(BoardRow).join(Piece, Piece.id == BoardRow.piece_id)
                  .where(BoardRow.structure_id == structure_id, BoardRow.status.in_(UNPAID),
                         BoardRow.cadre.is_(None), Piece.issue_date < bindparam("latest_issue", type_=Date))
                  .order_by(Piece.issue_date, Piece.id).limit(bindparam("limit", type_=Integer))
                  .subquery("candidates"))
    # The term its emitter agreed with its contractor, in the same statement (`terms_of`: no row or no term agreed,
    # the legal 30 days) — joined to the candidates kept, not to every unpaid invoice before the limit.
    c = candidates.c
    return (select(c.id, c.number, c.montant_ttc, c.accepted_amount, c.issue_date, c.emitter_structure_id, c.route,
                   c.emitter_name, MarcheParty.commercial_term_days, MarcheParty.commercial_term_end_of_month)
            .select_from(candidates).outerjoin(MarcheParty, MarcheParty.id == c.emitter_party_id)
            .order_by(c.issue_date, c.id))
