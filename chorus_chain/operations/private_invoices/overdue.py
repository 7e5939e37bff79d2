"""The private invoices of a structure unpaid past their due date (C. com. L. 441-10), for the Synthèse and the
Tableau de bord of both companies: the one that issued it (it is owed) and the one that must pay it.

Read under the structure's tenant: only the pieces it sees are read (the dashboards' read model, `board_row`, which
carries each unpaid private invoice's due date). Read-only.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache

from sqlalchemy import Date, Integer, and_, bindparam, select
from sqlalchemy.orm import aliased

from chorus_chain import access
from chorus_chain.domain import commercial_terms as commercial
from chorus_chain.domain.statuses import Status
from chorus_chain.extensions import db
from chorus_chain.models import MarcheParty, Piece, Structure
from chorus_chain.models.board import BoardRow

UNPAID = (Status.TRANSMISE_CONTRACTANT.value, Status.ACCEPTEE_CONTRACTANT.value)


@dataclass(frozen=True)
class OverduePiece:
    """What the lists show of an overdue invoice (its link, its number, its amounts): its board row's columns, not a
    `Piece` entity."""

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
    """The structure's private invoices, issued or received, unpaid after their due date: most overdue first (the
    earliest due date, then the piece's id), at most `limit`.

    One statement on the read model: board_row carries each unpaid private invoice's due date (`private_due`, kept
    in the transaction of each change, on the rows of its emitter and of its contractor only), so the overdue ones
    are the first entries of the structure's range of `ix_board_row_private_due` — read up to `limit`, whatever the
    structure's history. The due date is a calendar date and `today` the day in Paris: an invoice due yesterday is
    one day late today (`commercial_terms.days_overdue`)."""
    rows = db.session.execute(_overdue(), {"structure_id": structure.id, "today": today, "limit": limit}).all()
    found = []
    for piece_id, number, montant_ttc, accepted_amount, emitter_structure_id, emitter_name, due in rows:
        found.append(Overdue(OverduePiece(piece_id, number, montant_ttc, accepted_amount), due,
                             commercial.days_overdue(due, today, paid=False), emitter_structure_id == structure.id,
                             emitter_name))
    return found


@lru_cache(maxsize=1)
def _overdue():
    """The statement of `overdue_for`, its values bound at execution: built once per process (building it cost as
    much as running it, on every Synthèse and Tableau de bord), and marked `access.built_once` so that the tenant's
    criteria are added to it once per tenant rather than on each execution (with them, new options and a new cache key
    each time: a third of its CPU, 0.3-0.4 of 0.9-1.2 ms per page, bench/page_cpu.py). Row-level security applies to it.

    The keys first, from the partial index alone (an index-only scan of `limit` entries under a limit hidden from
    the planner, `planning.opaque_limit`: misled by the row-level security filter, PostgreSQL otherwise reads every
    row of a structure and sorts them), then their rows by primary key: what the list shows is on the board row
    (number, amounts, emitter), no piece is read."""
    structure_id = bindparam("structure_id", type_=Integer)
    # `today` read through a subquery (an InitPlan), so that the planner guesses the share of rows due before it
    # alike under the custom plan and the generic one: compared with the day itself, the custom plan counted the few
    # rows overdue (the column's histogram), always cheaper than the generic plan's default third, and PostgreSQL
    # planned the statement again on every page (pg_prepared_statements: no generic plan after eleven), although
    # both read the same entries (bench/explain_dashboards.py --generic).
    today = select(bindparam("today", type_=Date)).scalar_subquery()
    keys = (select(BoardRow.piece_id.label("piece_id"), BoardRow.private_due.label("due"))
            .where(BoardRow.structure_id == structure_id, BoardRow.private_due.is_not(None),
                   BoardRow.private_due < today)
            .order_by(BoardRow.private_due, BoardRow.piece_id)
            .limit(select(bindparam("limit", type_=Integer)).scalar_subquery()).subquery("overdue_keys"))
    shown = aliased(BoardRow, name="shown")
    return access.built_once(
        select(shown.piece_id, shown.number, shown.montant_ttc, shown.accepted_amount, shown.emitter_structure_id,
               shown.emitter_name, keys.c.due)
        .select_from(keys)
        .join(shown, and_(shown.structure_id == structure_id, shown.piece_id == keys.c.piece_id))
        .order_by(keys.c.due, keys.c.piece_id))
