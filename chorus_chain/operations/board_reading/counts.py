"""The dashboards' counts and sums read from the read model:

- « Par statut » unfiltered from `board_status_count` (structure × works × status: a few dozen rows); « Par marché »
  unfiltered from `board_marche_count` (`marches`); the companies' money from `board_party_count` (`parties.money_lines`);
- filtered on a status alone (a click on a line of « Par statut »), from `board_status_marche_count` (`status_groups`:
  one row per marché with pieces in that status);
- filtered on a cadre (alone or with a status), from `board_cadre_marche_count` (`cadre_groups`: one row per status
  and marché with pieces of that cadre);
- with other filters, from the rollups (`board_count`: insert-only deltas per structure × marché × emitting party ×
  cadre × works × status, summed here) when every filter is one of those dimensions: the rows read are the
  structure's buckets the filters select (a marché's, a company's), not its pieces;
- from `board_row`, at most `CAP + 1` rows, when a filter is not a dimension (a deposit period, a number): beyond
  `CAP` the page says « plus de 1 000 » instead of counting a structure's whole history.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import case, func, select

from chorus_chain import plan_cache
from chorus_chain.extensions import db
from chorus_chain.models import Marche, MarcheParty
from chorus_chain.models.board import (BoardCadreMarcheCount, BoardCount, BoardRow, BoardStatusCount,
                                       BoardStatusMarcheCount)
from chorus_chain.operations.board_reading.planning import opaque_limit
from chorus_chain.operations.pieces_queries import under_way as under_way_condition

CAP = 1000


def rollup_conditions(structure_id: int, *, works: bool | None = None, marche_id: int | None = None,
                      party_id: int | None = None, cadre: str | None = None, status: str | None = None) -> list:
    """The buckets of the structure the filters select (cadre "": the private invoices, "" in a bucket's key)."""
    conditions = [BoardCount.structure_id == structure_id]
    if works is not None:
        conditions.append(BoardCount.works == works)
    if marche_id is not None:
        conditions.append(BoardCount.marche_id == marche_id)
    if party_id is not None:
        if marche_id is None:
            # A party belongs to one marché: naming it puts the read on the party's buckets of the index
            # (structure, marché, party, …) instead of every bucket of the structure.
            conditions.append(BoardCount.marche_id == select(MarcheParty.marche_id)
                              .where(MarcheParty.id == party_id).scalar_subquery())
        conditions.append(BoardCount.emitter_party_id == party_id)
    if cadre is not None:
        conditions.append(BoardCount.cadre == cadre)
    if status:
        conditions.append(BoardCount.status == status)
    return conditions


@dataclass(frozen=True)
class Group:
    """The pieces of one status on one marché: how many, their amount TTC (credit notes deducted), paid, under way."""

    status: str
    marche_id: int
    reference: str
    count: int
    amount_ttc: Decimal
    paid: Decimal
    under_way: int


def rollup_groups(conditions: list) -> list[Group]:
    """The selected buckets summed by status and marché (a bucket whose deltas cancel out is no group), then joined
    to the marchés' references (the groups', not each bucket's: on a few hundred marchés the planner read the whole
    table once per bucket). One query, bounded by the buckets the filters select."""
    return _groups(BoardCount, conditions)


def status_groups(structure_id: int, works: bool | None, status: str) -> list[Group]:
    """The pieces of one status by marché, from `board_status_marche_count` (its index's range of that status: one
    row per marché, after compaction), then joined to the marchés' references. One query."""
    conditions = [BoardStatusMarcheCount.structure_id == structure_id, BoardStatusMarcheCount.status == status]
    if works is not None:
        conditions.append(BoardStatusMarcheCount.works == works)
    return _groups(BoardStatusMarcheCount, conditions)


def cadre_groups(structure_id: int, works: bool | None, cadre: str, status: str | None = None) -> list[Group]:
    """The pieces of one cadre ("": the private invoices), and of one status when given, by status and marché, from
    `board_cadre_marche_count` (its index's range of that cadre: one row per status, works and marché, after
    compaction) — not every bucket of the structure, as board_count's index (the cadre fourth) read them. One
    query."""
    conditions = [BoardCadreMarcheCount.structure_id == structure_id, BoardCadreMarcheCount.cadre == cadre]
    if status:
        conditions.append(BoardCadreMarcheCount.status == status)
    if works is not None:
        conditions.append(BoardCadreMarcheCount.works == works)
    return _groups(BoardCadreMarcheCount, conditions)


def _groups(table, conditions: list) -> list[Group]:
    """The rows of a rollup keyed by status and marché (`table`: `board_count`, `board_status_marche_count` or
    `board_cadre_marche_count`, with the pieces' sums) under `conditions`, summed by status and marché — groups whose deltas cancel out dropped — and
    joined to the marchés' references."""
    n = func.sum(table.n)
    summed = (select(table.status, table.marche_id, n.label("n"),
                     func.coalesce(func.sum(table.signed_ttc), 0).label("amount"),
                     func.coalesce(func.sum(table.paid), 0).label("paid"),
                     func.coalesce(func.sum(table.under_way), 0).label("under_way"))
              .where(*conditions).group_by(table.status, table.marche_id).having(n != 0)
              .subquery("summed"))
    rows = db.session.execute(
        select(summed.c.status, summed.c.marche_id, Marche.reference, summed.c.n, summed.c.amount, summed.c.paid,
               summed.c.under_way).join(Marche, Marche.id == summed.c.marche_id)).all()
    return [Group(status, marche_id, reference, int(count), Decimal(amount), Decimal(paid), int(under_way))
            for status, marche_id, reference, count, amount, paid, under_way in rows]


def capped_groups(conditions: list, along: tuple = ()) -> list[Group] | None:
    """The rows of board_row under `conditions` grouped by status and marché, reading at most CAP + 1 of them
    through the index the conditions pick; None when there are more than CAP (the page says « plus de »). The limit
    is hidden from the planner (`planning.opaque_limit`): with a plain one, a number range matching most of the
    structure's rows was read whole by a bitmap scan, which cannot stop at CAP + 1. `along`: the columns of the
    index to read in its order (the number search's range: `ix_board_row_number`), so that the read stops there.
    Planned for its values (`plan_cache.custom_plan`): its conditions are a period's or a number search's, whose
    generic plan reads the structure's rows (41 468 instead of 1 001 for a number at 100 000 pieces)."""
    selected = (select(BoardRow.status, BoardRow.marche_id, BoardRow.marche_reference, BoardRow.signed_ttc,
                       BoardRow.paid_amount).where(*conditions).order_by(*along)
                .limit(opaque_limit(CAP + 1)).subquery())
    under_way = under_way_condition(selected.c.status)
    rows = db.session.execute(plan_cache.custom_plan(
        select(selected.c.status, selected.c.marche_id, selected.c.marche_reference, func.count(),
               func.coalesce(func.sum(selected.c.signed_ttc), 0), func.coalesce(func.sum(selected.c.paid_amount), 0),
               func.count(case((under_way, 1))))
        .group_by(selected.c.status, selected.c.marche_id, selected.c.marche_reference))).all()
    if sum(row[3] for row in rows) > CAP:
        return None
    return [Group(status, marche_id, reference, int(count), Decimal(amount), Decimal(paid), int(under_way))
            for status, marche_id, reference, count, amount, paid, under_way in rows]


def count_limit(offset: int = 0, per_page: int = 0) -> int:
    """How many rows a capped count reads: CAP + 1 (one past CAP tells « plus de CAP »), or, for a page deeper than
    CAP, one past that page (its keys read that far anyway), so that the next page is still offered."""
    return max(CAP, offset + per_page) + 1


def capped_count(conditions: list, limit, along: tuple = ()):
    """A scalar subquery: how many rows of board_row match `conditions`, reading at most `limit` of them (an int,
    or a bound parameter). The limit is hidden from the planner (`LIMIT (SELECT n)`, as `planning.opaque_limit`):
    with a plain one matching most of a structure's rows, PostgreSQL may plan to read them all. `along`: the
    columns of the index to read in its order, so that the read stops at the limit — without an order, a waiting
    panel's count (a status filter on top of the waiting index) was a bitmap scan of every waiting entry of the
    structure (14 684 for the titulaire at a million pieces), which cannot stop."""
    limit = opaque_limit(limit) if isinstance(limit, int) else select(limit).scalar_subquery()
    rows = select(BoardRow.piece_id).where(*conditions).order_by(*along).limit(limit).subquery("capped")
    return select(func.count()).select_from(rows).correlate(None).scalar_subquery()


def capped_total(counted: int, limit: int) -> tuple[int, int | None]:
    """(total, more_than) of a count read under `limit` rows: exact below it; at it, more than CAP (`total` is then
    a lower bound, `PiecePage`)."""
    return (counted, CAP) if counted >= limit else (counted, None)


def status_sums(structure_id: int, works: bool | None) -> list[tuple[str, int, Decimal]]:
    """(status, pieces, amount TTC) of every status of the structure's pieces (within `works`), from
    `board_status_count`: rows bounded by the statuses (× 2 for works), whatever the history."""
    conditions = [BoardStatusCount.structure_id == structure_id]
    if works is not None:
        conditions.append(BoardStatusCount.works == works)
    n = func.sum(BoardStatusCount.n)
    return [(status, int(count), Decimal(amount)) for status, count, amount in db.session.execute(
        select(BoardStatusCount.status, n, func.coalesce(func.sum(BoardStatusCount.signed_ttc), 0))
        .where(*conditions).group_by(BoardStatusCount.status).having(n != 0))]
