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
  `CAP` the page says « plus de 1 000 » instead of counting a structure's whole history; a period alone first
  bounds its rows from below by index entries alone (`deposited_floor`), and reads no row when that says « plus de ».
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from sqlalchemy import Integer, bindparam, case, func, select, true

from chorus_chain import access
from chorus_chain.domain.statuses import Status
from chorus_chain.extensions import db
from chorus_chain.models import Marche, MarcheParty
from chorus_chain.models.board import (BoardCadreMarcheCount, BoardCount, BoardRow, BoardStatusCount,
                                       BoardStatusMarcheCount)
from chorus_chain.operations.board_reading.planning import opaque_limit
from chorus_chain.operations.pieces_queries import under_way as under_way_condition

CAP = 1000
# A draft is the only row without a deposit: the piece's check constraint (`status = 'BROUILLON' OR deposited_at IS
# NOT NULL`), whose two columns its board rows copy.
DRAFT = Status.BROUILLON.value


def rollup_params(structure_id: int, *, works: bool | None = None, marche_id: int | None = None,
                  party_id: int | None = None, cadre: str | None = None, status: str | None = None) -> dict:
    """The values of the filters set (cadre "": the private invoices, "" in a bucket's key), by the names of the
    parameters of `rollup_groups`' statement."""
    values = {"structure_id": structure_id, "works": works, "marche_id": marche_id, "party_id": party_id,
              "cadre": cadre, "status": status or None}
    return {name: value for name, value in values.items() if value is not None}


def _rollup_conditions(shape: frozenset) -> list:
    """The buckets of the structure the filters named in `shape` select, each value a bound parameter of its name."""
    conditions = [BoardCount.structure_id == bindparam("structure_id", type_=Integer)]
    if "works" in shape:
        conditions.append(BoardCount.works == bindparam("works"))
    if "marche_id" in shape:
        conditions.append(BoardCount.marche_id == bindparam("marche_id"))
    if "party_id" in shape:
        if "marche_id" not in shape:
            # A party belongs to one marché: naming it puts the read on the party's buckets of the index
            # (structure, marché, party, …) instead of every bucket of the structure.
            conditions.append(BoardCount.marche_id == select(MarcheParty.marche_id)
                              .where(MarcheParty.id == bindparam("party_id")).scalar_subquery())
        conditions.append(BoardCount.emitter_party_id == bindparam("party_id"))
    if "cadre" in shape:
        conditions.append(BoardCount.cadre == bindparam("cadre"))
    if "status" in shape:
        conditions.append(BoardCount.status == bindparam("status"))
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


def rollup_groups(params: dict) -> list[Group]:
    """The buckets the filters select (`rollup_params`) summed by status and marché (a bucket whose deltas cancel
    out is no group), then joined to the marchés' references (the groups', not each bucket's: on a few hundred
    marchés the planner read the whole table once per bucket). One query, bounded by the buckets the filters
    select."""
    return _groups_of(_rollup_statement(frozenset(params)), params)


@lru_cache(maxsize=64)
def _rollup_statement(shape: frozenset):
    return access.built_once(_groups_statement(BoardCount, _rollup_conditions(shape)))


def status_groups(structure_id: int, works: bool | None, status: str) -> list[Group]:
    """The pieces of one status by marché, from `board_status_marche_count` (its index's range of that status: one
    row per marché, after compaction), then joined to the marchés' references. One query."""
    params = {"structure_id": structure_id, "status": status}
    if works is not None:
        params["works"] = works
    return _groups_of(_status_statement(works is not None), params)


@lru_cache(maxsize=2)
def _status_statement(by_works: bool):
    conditions = [BoardStatusMarcheCount.structure_id == bindparam("structure_id", type_=Integer),
                  BoardStatusMarcheCount.status == bindparam("status")]
    if by_works:
        conditions.append(BoardStatusMarcheCount.works == bindparam("works"))
    return access.built_once(_groups_statement(BoardStatusMarcheCount, conditions))


def cadre_groups(structure_id: int, works: bool | None, cadre: str, status: str | None = None) -> list[Group]:
    """The pieces of one cadre ("": the private invoices), and of one status when given, by status and marché, from
    `board_cadre_marche_count` (its index's range of that cadre: one row per status, works and marché, after
    compaction) — not every bucket of the structure, as board_count's index (the cadre fourth) read them. One
    query."""
    params = {"structure_id": structure_id, "cadre": cadre}
    if status:
        params["status"] = status
    if works is not None:
        params["works"] = works
    return _groups_of(_cadre_statement(bool(status), works is not None), params)


@lru_cache(maxsize=4)
def _cadre_statement(by_status: bool, by_works: bool):
    conditions = [BoardCadreMarcheCount.structure_id == bindparam("structure_id", type_=Integer),
                  BoardCadreMarcheCount.cadre == bindparam("cadre")]
    if by_status:
        conditions.append(BoardCadreMarcheCount.status == bindparam("status"))
    if by_works:
        conditions.append(BoardCadreMarcheCount.works == bindparam("works"))
    return access.built_once(_groups_statement(BoardCadreMarcheCount, conditions))


def _groups_statement(table, conditions: list):
    """The rows of a rollup keyed by status and marché (`table`: `board_count`, `board_status_marche_count` or
    `board_cadre_marche_count`, with the pieces' sums) under `conditions`, summed by status and marché — groups
    whose deltas cancel out dropped — and joined to the marchés' references. Built once per process and shape of
    the filters, their values bound at execution (`_groups_of`): building it, its tenant's criteria and its cache
    key on every filtered Tableau de bord cost more CPU than running it (bench/page_cpu.py)."""
    n = func.sum(table.n)
    summed = (select(table.status, table.marche_id, n.label("n"),
                     func.coalesce(func.sum(table.signed_ttc), 0).label("amount"),
                     func.coalesce(func.sum(table.paid), 0).label("paid"),
                     func.coalesce(func.sum(table.under_way), 0).label("under_way"))
              .where(*conditions).group_by(table.status, table.marche_id).having(n != 0)
              .subquery("summed"))
    return (select(summed.c.status, summed.c.marche_id, Marche.reference, summed.c.n, summed.c.amount,
                   summed.c.paid, summed.c.under_way).join(Marche, Marche.id == summed.c.marche_id))


def _groups_of(statement, params: dict) -> list[Group]:
    return [Group(status, marche_id, reference, int(count), Decimal(amount), Decimal(paid), int(under_way))
            for status, marche_id, reference, count, amount, paid, under_way
            in db.session.execute(statement, params)]


def capped_groups(conditions, params: dict, along: tuple = ()) -> list[Group] | None:
    """The rows of board_row under `conditions` (`lists.KeptConditions`, their values `params`:
    `dashboard.bound_scope`) grouped by status and marché, reading at most CAP + 1 of them through the index the
    conditions pick; None when there are more than CAP (the page says « plus de »). The limit is hidden from the
    planner (`planning.opaque_limit`): with a plain one, a number range matching most of the structure's rows was
    read whole by a bitmap scan, which cannot stop at CAP + 1. `along`: the columns of the index to read in its
    order (the number search's range: `ix_board_row_number`), so that the read stops there. Planned for its values
    when its conditions ask for it (`KeptConditions.custom_plan`: a period's or a number search's, whose generic
    plan reads the structure's rows — 41 468 instead of 1 001 for a number at 100 000 pieces). Built once per
    process for its conditions and `along`.

    When the conditions carry a floor (`KeptConditions.floor`: a period alone, `deposited_floor`), the statement
    reads it first and reads the rows only when it is at most CAP: a month of a busy structure is « plus de 1 000 »
    from about a thousand index entries (a few pages of the index, no row), where the CAP + 1 rows themselves were
    as many pages of the table (935 buffers for the titulaire's month at 100 000 pieces)."""
    rows = db.session.execute(_capped_statement(conditions, along), {**params, "capped_rows": CAP + 1}).all()
    if conditions.floor is not None:
        if rows and rows[0][0] > CAP:
            return None
        rows = [row[1:] for row in rows if row[1] is not None]  # (the floor's row alone: no group)
    if sum(row[3] for row in rows) > CAP:
        return None
    return [Group(status, marche_id, reference, int(count), Decimal(amount), Decimal(paid), int(under_way))
            for status, marche_id, reference, count, amount, paid, under_way in rows]


@lru_cache(maxsize=128)
def _capped_statement(conditions, along: tuple):
    # The floor first (a CTE, read once), the rows under a condition on it alone: PostgreSQL makes that a one-time
    # filter of their scan, which then does not run when the floor is past CAP (row-level security keeps it: it
    # names no column). The floor's row is joined to the groups so that it comes back without them.
    floor = None if conditions.floor is None else select(conditions.floor.label("n")).cte("floor")
    guard = () if floor is None else (select(floor.c.n).scalar_subquery() <= CAP,)
    selected = (select(BoardRow.status, BoardRow.marche_id, BoardRow.marche_reference, BoardRow.signed_ttc,
                       BoardRow.paid_amount).where(*conditions.conditions, *guard).order_by(*along)
                .limit(opaque_limit(bindparam("capped_rows", type_=Integer))).subquery())
    under_way = under_way_condition(selected.c.status)
    grouped = (select(selected.c.status, selected.c.marche_id, selected.c.marche_reference, func.count(),
                      func.coalesce(func.sum(selected.c.signed_ttc), 0),
                      func.coalesce(func.sum(selected.c.paid_amount), 0), func.count(case((under_way, 1))))
               .group_by(selected.c.status, selected.c.marche_id, selected.c.marche_reference))
    if floor is not None:
        grouped = grouped.subquery("grouped")
        grouped = select(floor.c.n, *grouped.c).select_from(floor.outerjoin(grouped, true()))
    return conditions.marked(access.built_once(grouped))


def deposited_floor(range_conditions: list):
    """A lower bound of the deposited rows under `range_conditions` — the structure's equality and a range of the
    sort date, every column of the date index `ix_board_row_date` (structure, sort_date, piece) —, read from index
    entries alone: the range's entries of the date index, up to CAP + 1 past its drafts, less its drafts (those of
    `ix_board_row_status_date`, up to CAP + 1). A row without a deposit is a draft (`DRAFT`), so the range's
    deposited rows are at least its entries less its drafts; past CAP drafts the floor is 0 (not a bound: the rows
    are then counted). Index-only scans: the entries of a month, not its rows (`capped_groups`)."""
    # The drafts counted once (a CTE: one scan, planned once), the entries up to CAP + 1 past them.
    drafts = select(func.count().label("n")).select_from(
        select(BoardRow.piece_id).where(*range_conditions, BoardRow.status == DRAFT)
        .limit(opaque_limit(CAP + 1)).subquery("drafts")).cte("drafts")
    entries = select(func.count()).select_from(
        select(BoardRow.piece_id).where(*range_conditions).order_by(BoardRow.sort_date, BoardRow.piece_id)
        .limit(select(CAP + 1 + drafts.c.n).correlate(None).scalar_subquery()).subquery("entries")
    ).correlate(None).scalar_subquery()
    return select(case((drafts.c.n > CAP, 0), else_=entries - drafts.c.n)).scalar_subquery()


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
    params = {"structure_id": structure_id} if works is None else {"structure_id": structure_id, "works": works}
    return [(status, int(count), Decimal(amount))
            for status, count, amount in db.session.execute(status_sums_statement(works is not None), params)]


@lru_cache(maxsize=2)
def status_sums_statement(by_works: bool):
    """`status_sums`' statement, the structure (and the member's `works`) bound at execution: built once per
    process (`access.built_once`), as every statement of the unfiltered Tableau de bord."""
    conditions = [BoardStatusCount.structure_id == bindparam("structure_id", type_=Integer)]
    if by_works:
        conditions.append(BoardStatusCount.works == bindparam("works"))
    n = func.sum(BoardStatusCount.n)
    return access.built_once(
        select(BoardStatusCount.status, n, func.coalesce(func.sum(BoardStatusCount.signed_ttc), 0))
        .where(*conditions).group_by(BoardStatusCount.status).having(n != 0))
