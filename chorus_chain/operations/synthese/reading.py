"""The Synthèse's work list, read in one statement: a page of what waits on the structure, most urgent first, with
how many wait in all, each row's next open clock and its marché's holder.

The same rows, order and count as `board_reading.lists.waiting_page` (the "à traiter" box, `board_row`'s `waiting`),
which costs three statements (count, rows, clocks) plus one for the holders (`dashboard.holders_of`): on a page
that renders in a few milliseconds, each statement's round trip and ORM work was a sizeable share of its CPU
(bench/page_cpu.py). Here:
- the count is a scalar subquery of the same statement, capped (`board_reading.counts.count_limit`: at most
  CAP + 1 waiting rows, « plus de CAP » beyond; page numbers go on past it, one row past the page telling a next);
- the next clock is the one the read model keeps with the row (`next_due`, `next_kind`: the earliest open clock of
  the piece, `board.rows`, maintained in the transaction of each change), the very clock the list is sorted by;
- the holder is a correlated subquery per row shown (the marché's confirmed titulaire or mandataire, lowest id
  first, as `pieces_records.holder_structure_id` reads the chain);
- whether an issued état d'acompte carries the piece (`pieces_queries.carried_by_an_etat`) and whether the
  titulaire referred it to the MOA (`pieces_actions.referred_by_the_titulaire`), which the actions offered on a
  projet de décompte depend on (`pieces_actions.page_facts`'s `carried` and `referred`: on the MOA's page the
  referral was a statement of its own, about a tenth of its CPU, bench/page_cpu.py).
Everything is read under the tenant (the ORM's criteria on `Piece` and `BoardRow`, and row-level security).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from datetime import datetime

from sqlalchemy import Integer, and_, bindparam, func, select
from sqlalchemy.orm import aliased

from chorus_chain import access
from chorus_chain.extensions import db
from chorus_chain.graph import Role
from chorus_chain.models import MarcheParty, Piece
from chorus_chain.models.board import BoardRow
from chorus_chain.operations.board_reading import counts
from chorus_chain.operations.board_reading.lists import WAITING_ORDER, waiting_conditions
from chorus_chain.operations.pieces_actions import referred_by_the_titulaire
from chorus_chain.operations.pieces_queries import PiecePage, PieceRow, carried_by_an_etat


@dataclass(frozen=True)
class NextClock:
    """A row's next open clock as the list shows it (its kind, its due instant): what `display.countdown`,
    `is_overdue` and `deadline_badge` read of a `Deadline`."""

    kind: str
    due_at: datetime


@dataclass(frozen=True)
class WorkRows:
    page: PiecePage
    holders: dict[int, int | None]  # marché id → its holder's structure id (the marchés of the page's rows)
    carried: set[int]  # the page's pieces an issued état d'acompte carries
    referred: set[int]  # the page's projets de décompte the titulaire referred to the MOA


def work_page(structure_id: int, *, works: bool | None = None, marche_id: int | None = None,
              statuses: str | Iterable[str] | None = None, page: int = 1, per_page: int = 20) -> WorkRows:
    """One page of the work list, its marchés' holders, the états carrying its pieces and the referrals to the MOA:
    one statement (two for a page past the last one)."""
    wanted = None if not statuses else ((statuses,) if isinstance(statuses, str) else tuple(statuses))
    offset = (page - 1) * per_page
    # The count reads at most CAP + 1 waiting rows (« plus de CAP » beyond), or one past a deeper page.
    limit = counts.count_limit(offset, per_page)
    rows = db.session.execute(_statement(works, marche_id is not None, wanted),
                              {"structure_id": structure_id, "marche_id": marche_id, "per_page": per_page,
                               "offset": offset, "count_limit": limit}).all()
    if rows:
        count = rows[0][-1]
    elif page == 1:
        count = 0  # nothing waits: the page's keys are the first ones
    else:  # a page past the last one (an old link): the count alone
        conditions = waiting_conditions(structure_id, works=works, marche_id=marche_id, statuses=wanted)
        count = db.session.scalar(select(counts.capped_count(conditions, limit, along=WAITING_ORDER)))
    count, more_than = counts.capped_total(count, limit)
    items = [PieceRow(piece, reference, name, siret, NextClock(kind, due) if due is not None else None)
             for piece, reference, name, siret, kind, due, _holder, _carried, _referred, _total in rows]
    holders = {piece.marche_id: holder_id for piece, *_, holder_id, _carried, _referred, _total in rows}
    carried = {piece.id for piece, *_, is_carried, _referred, _total in rows if is_carried}
    referred = {piece.id for piece, *_, is_referred, _total in rows if is_referred}
    return WorkRows(PiecePage(items, count, page, per_page, more_than), holders, carried, referred)


@lru_cache(maxsize=64)
def _statement(works: bool | None, by_marche: bool, statuses: tuple[str, ...] | None):
    """The work list's statement for one shape of filters, its values bound at execution (structure_id, marche_id,
    per_page, offset, count_limit): built once per process and shape — building it anew was about half of its CPU (a few dozen
    clause objects, each coerced), the other half executing it. Marked `access.built_once`: the tenant's criteria are
    added to it once per tenant and the result kept (the same criteria as on any statement, row-level security still
    applies), instead of new options and a new cache key on every page."""
    structure_id = bindparam("structure_id", type_=Integer)
    conditions = waiting_conditions(structure_id, works=works, statuses=statuses,
                                    marche_id=bindparam("marche_id", type_=Integer) if by_marche else None)
    # Not correlated with the outer statement (which reads board_row through an alias): the structure's count,
    # reading at most `count_limit` of its waiting rows (`board_reading.counts.count_limit`): at a million pieces the
    # MOA's exact count read its 22 919 waiting rows to show twenty.
    total = counts.capped_count(conditions, bindparam("count_limit", type_=Integer), along=WAITING_ORDER)
    # The page's keys first, in the waiting index's order, under a limit hidden from the planner (`LIMIT (SELECT
    # n)`, as `planning.opaque_limit` writes it; see `board_reading.lists.waiting_page`: with a plain LIMIT, misled
    # by the row-level security filter, PostgreSQL read every waiting row of the structure with its piece, then
    # sorted them); then the rows by primary key.
    keys = (select(BoardRow.piece_id.label("piece_id"), BoardRow.next_due.label("next_due"),
                   BoardRow.sort_date.label("sort_date")).where(*conditions)
            .order_by(BoardRow.next_due.asc().nulls_last(), BoardRow.sort_date.desc(), BoardRow.piece_id.desc())
            .limit(select(bindparam("per_page", type_=Integer)).scalar_subquery())
            .offset(bindparam("offset", type_=Integer)).subquery("waiting_keys"))
    shown = aliased(BoardRow)
    holder = (select(MarcheParty.structure_id)
              .where(MarcheParty.marche_id == Piece.marche_id, MarcheParty.role.in_(Role.HOLDERS),
                     MarcheParty.status == "confirmed")
              .order_by(MarcheParty.id).limit(1).correlate(Piece).scalar_subquery())
    return access.built_once(
        select(Piece, shown.marche_reference, shown.emitter_name, shown.emitter_siret, shown.next_kind,
               shown.next_due, holder, carried_by_an_etat(), referred_by_the_titulaire(), total)
        .select_from(keys)
        .join(shown, and_(shown.structure_id == structure_id, shown.piece_id == keys.c.piece_id))
        .join(Piece, Piece.id == keys.c.piece_id)
        .order_by(keys.c.next_due.asc().nulls_last(), keys.c.sort_date.desc(), keys.c.piece_id.desc()))
