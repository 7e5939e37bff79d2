"""« Par marché », read from `board_marche_count` (structure × works × marché): one row per marché the structure
sees, whatever the number of its pieces, their companies, cadres and statuses.

- `marche_lines`: the Tableau de bord's card — the `CARD_LINES` marchés with the most pieces under way (what a
  member acts on: a marché whose pieces are all paid or drafts is history), then the most pieces, then the newest
  marché; the others summed (« N autres marchés »). One query: the structure's marché rows summed, ranked and cut by
  the database, each line carrying the totals of all (a window), then joined to their references; built once per
  process.
- `marche_page`: the whole list, a page of its own, keyset-paginated on (reference, marché).

Every query names the structure (the rollup's row-level security is the same equality).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from sqlalchemy import Integer, bindparam, func, select

from chorus_chain import access
from chorus_chain.extensions import db
from chorus_chain.models import Marche
from chorus_chain.models.board import BoardMarcheCount
from chorus_chain.operations.board_reading import keyset

ZERO = Decimal("0.00")
CARD_LINES = 10
PAGE_LINES = 50


@dataclass(frozen=True)
class MarcheLine:
    """The structure's pieces on one marché: how many, how many under way (neither a draft nor final), their amount
    TTC (credit notes deducted) and what was paid."""

    marche_id: int
    reference: str
    count: int
    amount_ttc: Decimal
    paid: Decimal
    waiting: int  # pieces still under way


@dataclass(frozen=True)
class OtherMarches:
    """The marchés the card does not show, summed."""

    count: int = 0
    pieces: int = 0
    amount_ttc: Decimal = ZERO
    paid: Decimal = ZERO
    waiting: int = 0


def _summed(structure_id, works: bool | None):
    """The structure's marchés (within `works`) with their sums; marchés whose deltas cancel out left out."""
    conditions = [BoardMarcheCount.structure_id == structure_id]
    if works is not None:
        conditions.append(BoardMarcheCount.works == works)
    n = func.sum(BoardMarcheCount.n)
    return (select(BoardMarcheCount.marche_id, n.label("n"),
                   func.coalesce(func.sum(BoardMarcheCount.signed_ttc), 0).label("amount"),
                   func.coalesce(func.sum(BoardMarcheCount.paid), 0).label("paid"),
                   func.coalesce(func.sum(BoardMarcheCount.under_way), 0).label("under_way"))
            .where(*conditions).group_by(BoardMarcheCount.marche_id).having(n != 0))


def rank(line: MarcheLine) -> tuple:
    """The card's order (ascending): most under way, then most pieces, then the newest marché."""
    return (-line.waiting, -line.count, -line.marche_id)


def marche_lines(structure_id: int, works: bool | None,
                 limit: int | None = None) -> tuple[list[MarcheLine], OtherMarches]:
    """The card's lines (`rank` order; `CARD_LINES` of them unless told) and the others summed. One query."""
    limit = CARD_LINES if limit is None else limit
    return lines_of(db.session.execute(lines_statement(works, max(limit, 1)), {"structure_id": structure_id}).all(),
                    limit)


def lines_of(rows, limit: int) -> tuple[list[MarcheLine], OtherMarches]:
    """`marche_lines`' answer from the rows of `lines_statement`."""
    lines = sorted((MarcheLine(marche_id, reference, int(n), Decimal(amount), Decimal(paid), int(under_way))
                    for marche_id, reference, n, amount, paid, under_way, *_ in rows), key=rank)[:limit]
    if not rows:
        return [], OtherMarches()
    marches, all_n, all_amount, all_paid, all_under_way = rows[0][6:]
    rest = OtherMarches(int(marches) - len(lines), int(all_n) - sum(line.count for line in lines),
                        Decimal(all_amount) - sum((line.amount_ttc for line in lines), ZERO),
                        Decimal(all_paid) - sum((line.paid for line in lines), ZERO),
                        int(all_under_way) - sum(line.waiting for line in lines))
    return lines, rest


@lru_cache(maxsize=32)
def lines_statement(works: bool | None, limit: int):
    """`marche_lines`'s statement, the structure bound at execution: built once per process for each rights'
    variant and size of the card (building its subqueries and windows, and their cache key, cost more than running
    it on every Tableau de bord: bench/page_cpu.py). The SQL is the same. The structure's marché rows summed, ranked
    and cut by the database, each line carrying the totals of all (a window; one row at least: it carries the
    totals), then joined to their references."""
    summed = _summed(bindparam("structure_id", type_=Integer), works).subquery("summed")
    ranked = (select(summed, func.count().over().label("marches"), func.sum(summed.c.n).over().label("all_n"),
                     func.sum(summed.c.amount).over().label("all_amount"),
                     func.sum(summed.c.paid).over().label("all_paid"),
                     func.sum(summed.c.under_way).over().label("all_under_way"))
              .order_by(summed.c.under_way.desc(), summed.c.n.desc(), summed.c.marche_id.desc())
              .limit(limit).subquery("ranked"))
    return access.built_once(
        select(ranked.c.marche_id, Marche.reference, ranked.c.n, ranked.c.amount, ranked.c.paid, ranked.c.under_way,
               ranked.c.marches, ranked.c.all_n, ranked.c.all_amount, ranked.c.all_paid, ranked.c.all_under_way)
        .join(Marche, Marche.id == ranked.c.marche_id))


def cut(lines: list[MarcheLine], limit: int | None = None) -> tuple[list[MarcheLine], OtherMarches]:
    """The same cut of lines already summed (a filtered overview, read from board_count or board_row)."""
    limit = CARD_LINES if limit is None else limit
    ordered = sorted(lines, key=rank)
    shown, others = ordered[:limit], ordered[limit:]
    return shown, OtherMarches(len(others), sum(line.count for line in others),
                               sum((line.amount_ttc for line in others), ZERO),
                               sum((line.paid for line in others), ZERO), sum(line.waiting for line in others))


@dataclass(frozen=True)
class MarchePage:
    """A page of the whole list, by reference; the cursors of the pages around it."""

    lines: list[MarcheLine]
    before: str | None
    after: str | None


def marche_page(structure_id: int, works: bool | None, *, after: str | None = None, before: str | None = None,
                per_page: int = PAGE_LINES) -> MarchePage:
    """One page of every marché of the structure, keyset-paginated on (reference, marché): the structure's marché
    rows (one per marché), summed, joined to their references, the page cut by the database. One query."""
    summed = _summed(structure_id, works).subquery("summed")
    query = (select(summed.c.marche_id, Marche.reference, summed.c.n, summed.c.amount, summed.c.paid,
                    summed.c.under_way).join(Marche, Marche.id == summed.c.marche_id))
    page = keyset.window(query, (Marche.reference, Marche.id), (str, int), lambda row: (row[1], row[0]),
                         after=after, before=before, per_page=per_page)
    lines = [MarcheLine(marche_id, reference, int(n), Decimal(amount), Decimal(paid), int(under_way))
             for marche_id, reference, n, amount, paid, under_way in page.rows]
    return MarchePage(lines, page.before, page.after)
