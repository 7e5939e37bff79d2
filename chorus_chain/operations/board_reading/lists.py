"""The dashboards' lists read from `board_row`, each through an index of the structure's rows, cut by the database:

- `waiting_page`: what waits on the structure, most urgent first (the Synthèse) — the partial index
  `ix_board_row_waiting` (structure, next clock, newest): the rows read are the waiting ones, not its history;
- `waiting_panels`: the Tableau de bord's waiting panels, each a slice of the same box by statuses, all in one
  statement (a branch per panel: its first keys, its count capped at `counts.CAP`);
- `board_page`: the Tableau de bord's list on one sort, keyset-paginated (`cursor`): each sort has its index
  (structure, sort value, piece id), read forwards or backwards from the last row seen;
- `clock_page`: the open clocks of a panel (`board.rows.CLOCK_PANELS`: payments, corrections), earliest due first,
  with their count capped at `counts.CAP` (« plus de »).

A page's rows are then read by their primary keys in the same statement. The Synthèse's work list loads each
`Piece` (its actions need the whole piece; the ORM's tenant criteria apply to the pieces: a probe per row shown); the
Tableau de bord's list and panels show only what the read model carries, so they read plain rows (`ListedPiece`,
`NextClock`: the board row's copy of the piece's figures and of its next clock, kept in the transaction of each
change) and not an ORM entity and its clocks per row — most of their CPU before (bench/page_cpu.py) —, and read the
piece itself only for the why of an accepted amount that differs (`_accepted_why`).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Integer, and_, bindparam, case, cast, literal, null, select, tuple_, true, union_all
from sqlalchemy.orm import aliased
from sqlalchemy.sql.util import ClauseAdapter

from chorus_chain import access, plan_cache
from chorus_chain.extensions import db
from chorus_chain.models import Deadline, Marche, Piece
from chorus_chain.models.board import BoardRow
from chorus_chain.models.pieces import PieceRules
from chorus_chain.operations.board_reading import counts
from chorus_chain.operations.board_reading import cursor as cursors
from chorus_chain.operations.board_reading.planning import opaque_limit
from chorus_chain.operations.pieces_queries import PiecePage, PieceRow, _next_deadlines

# The board row a page's keys are joined back to (the keys come from a subquery on board_row itself). Built once:
# an alias of the model proxies each of its columns, about a millisecond of CPU a request when built per call.
SHOWN = aliased(BoardRow, name="shown")

# The Tableau de bord's sorts (the URL's "tri") → the read model's column, each with its index (models.board).
SORT_COLUMNS = {
    "numero": BoardRow.number_key,
    "date": BoardRow.sort_date,
    "montant": BoardRow.montant_cents,  # in cents: a leakproof comparison for the cursor (migration 0043)
    "statut": BoardRow.status,
    "marche": BoardRow.marche_reference,
}


def _rows_of(statement) -> list[PieceRow]:
    """The page's rows as the templates read them (the piece, its marché's reference and emitter, its next clock)."""
    rows = db.session.execute(statement).all()
    next_clock = _next_deadlines([row[0].id for row in rows])
    return [PieceRow(piece, reference, name, siret, next_clock.get(piece.id)) for piece, reference, name, siret
            in rows]


@dataclass(frozen=True, slots=True)
class ListedPiece(PieceRules):
    """A piece as the Tableau de bord's list and panels show it: its board row's copy of the piece's figures, and
    the stored why of its accepted amount (`amount_ui.amount_why_of` reads these attributes as a Piece's). What it
    answers from its status (`is_draft`) is the piece's own rule (`PieceRules`)."""

    id: int
    number: str
    cadre: str | None
    piece_type: str
    status: str
    montant_ttc: Decimal
    accepted_amount: Decimal | None
    accepted_why: dict | None
    deposited_at: datetime | None


@dataclass(frozen=True, slots=True)
class NextClock:
    """The earliest open clock of a piece, as the board row keeps it (the templates' countdown reads these two)."""

    kind: str
    due_at: datetime


def _accepted_why(shown):
    """The stored why of a listed row's accepted amount (`Piece.accepted_why`), read from its piece only where the
    board row's two amounts differ — the only rows whose why is shown (`amount_why.explain`) —: a probe of the piece
    by primary key for those few rows, under the piece's own criteria and row-level security, instead of a join of
    every row of the page to `piece` (and the piece's tenant probe per row). The rows themselves are the board
    row's, read under its criteria and policy (the structure's equality)."""
    why = select(Piece.accepted_why).where(Piece.id == shown.piece_id).scalar_subquery()
    return case((shown.accepted_amount != shown.montant_ttc, why))


def _listed_columns(shown):
    """The columns of a listed row, `shown` a board_row alias."""
    return (shown.piece_id, shown.number, shown.cadre, shown.piece_type, shown.status, shown.montant_ttc,
            shown.accepted_amount, _accepted_why(shown), shown.deposited_at, shown.marche_reference,
            shown.emitter_name, shown.emitter_siret, shown.next_kind, shown.next_due)


LISTED_WIDTH = 14  # len(_listed_columns(…))


def _listed_row(values) -> PieceRow:
    """A PieceRow of plain values from `_listed_columns`' first columns."""
    (piece_id, number, cadre, piece_type, status, montant, accepted, why, deposited_at, reference, name, siret,
     next_kind, next_due) = values[:LISTED_WIDTH]
    return PieceRow(ListedPiece(piece_id, number, cadre, piece_type, status, montant, accepted, why, deposited_at),
                    reference, name, siret, NextClock(next_kind, next_due) if next_due is not None else None)


# The "à traiter" box's order, the waiting index's (`ix_board_row_waiting`): earliest open clock, newest, highest id.
WAITING_ORDER = (BoardRow.next_due.asc().nulls_last(), BoardRow.sort_date.desc(), BoardRow.piece_id.desc())


def waiting_conditions(structure_id: int, *, works: bool | None = None, marche_id: int | None = None,
                       statuses: str | Iterable[str] | None = None) -> list:
    """What waits on the structure (the "à traiter" box: pieces_queries.box_condition), narrowed."""
    # `waiting = true`, which the planner reads as the partial index's own predicate (`WHERE waiting`).
    conditions = [BoardRow.structure_id == structure_id, BoardRow.waiting == true()]
    if works is not None:
        conditions.append(BoardRow.works == works)
    if marche_id is not None:
        conditions.append(BoardRow.marche_id == marche_id)
    if statuses:
        conditions.append(BoardRow.status.in_([statuses] if isinstance(statuses, str) else list(statuses)))
    return conditions


def waiting_page(structure_id: int, *, works: bool | None = None, marche_id: int | None = None,
                 statuses: str | Iterable[str] | None = None, page: int = 1, per_page: int = 20) -> PiecePage:
    """A page of what waits on the structure, most urgent first: the earliest open clock, pieces without one after,
    newest first, then the highest id — the order of `pieces_queries.pieces_for(box="a_traiter")`. Three queries
    (rows, count, clocks); the count reads at most CAP + 1 waiting rows (`counts.count_limit`: « plus de CAP »)."""
    conditions = waiting_conditions(structure_id, works=works, marche_id=marche_id, statuses=statuses)
    limit = counts.count_limit((page - 1) * per_page, per_page)
    counted = db.session.scalar(select(counts.capped_count(conditions, limit, along=WAITING_ORDER)))
    total, more_than = counts.capped_total(counted, limit)
    # The page's keys first, in the waiting index's order (its columns: what it holds), under a limit hidden from
    # the planner (`planning.opaque_limit`): selecting the wide rows with a plain LIMIT, PostgreSQL misled by the
    # row-level security filter read every waiting row of the structure with its piece, then sorted them. Then
    # the page's rows by primary key.
    keys = (select(BoardRow.piece_id.label("piece_id"), BoardRow.next_due.label("next_due"),
                   BoardRow.sort_date.label("sort_date")).where(*conditions)
            .order_by(BoardRow.next_due.asc().nulls_last(), BoardRow.sort_date.desc(), BoardRow.piece_id.desc())
            .limit(opaque_limit(per_page)).offset((page - 1) * per_page).subquery("waiting_keys"))
    shown = SHOWN
    items = _rows_of(select(Piece, shown.marche_reference, shown.emitter_name, shown.emitter_siret)
                     .select_from(keys)
                     .join(shown, and_(shown.structure_id == structure_id, shown.piece_id == keys.c.piece_id))
                     .join(Piece, Piece.id == keys.c.piece_id)
                     .order_by(keys.c.next_due.asc().nulls_last(), keys.c.sort_date.desc(), keys.c.piece_id.desc()))
    return PiecePage(items, total, page, per_page, more_than)


def waiting_panels(structure_id: int, panels: dict[str, Iterable[str]], *, works: bool | None = None,
                   per_page: int = 8) -> dict[str, PiecePage]:
    """`panels_read`'s waiting panels alone."""
    return panels_read(structure_id, panels, works=works, per_page=per_page).pages


# A tacit validation (`panels_read`): piece id, number, emitter's name, marché's reference, amount TTC, `tacit_at`.
TacitKeys = tuple[int, str, str, str, Decimal, datetime]
TACIT = "tacit"  # the tacit validations' branch of `panels_read`'s statement (never a waiting panel's name)


@dataclass(frozen=True)
class PanelsRead:
    pages: dict[str, PiecePage]  # each waiting panel's first page
    tacit: list[TacitKeys]  # the structure's latest tacit validations, when asked for


def panels_read(structure_id: int, panels: dict[str, Iterable[str]], *, works: bool | None = None,
                per_page: int = 8, tacit: bool = False) -> PanelsRead:
    """Several waiting panels at once: panel name → the first `per_page` pieces waiting on the structure in that
    panel's statuses, in `waiting_page`'s order, with how many there are — what `waiting_page(statuses=…)` answers
    for each (the pieces as `ListedPiece`, their next clock as the board row keeps it), in one statement whatever
    the number of panels instead of three per panel. The panels' statuses must not overlap (a row belongs to one
    panel).

    Per panel, in one statement (a UNION ALL): its first `per_page` keys in the box's order (the partial index,
    stopping there) and its count reading at most CAP + 1 of its waiting rows (`counts.capped_count`: « plus de
    CAP » beyond); the rows shown are then read by primary key. A window count over all of them read every waiting
    row of the structure: 29 400 rows, 363 ms for the titulaire at a million pieces.

    `tacit`: the structure's `per_page` latest tacit validations too (the holder's panel: board rows with a
    `tacit_at`, newest first), one more branch of the same statement (`PanelsRead.tacit`)."""
    owner: dict[str, str] = {}
    for name, statuses in panels.items():
        for status in statuses:
            if owner.setdefault(status, name) != name:
                raise ValueError(f"status {status} in two waiting panels ({owner[status]}, {name})")
    if TACIT in panels:
        raise ValueError(f"{TACIT!r} names the tacit validations, not a waiting panel")
    if not owner and not tacit:
        return PanelsRead({}, [])
    shape = tuple((name, tuple(sorted(set(statuses)))) for name, statuses in panels.items() if statuses)
    params = {"structure_id": structure_id}
    if works is not None:
        params["works"] = works
    limit = counts.count_limit(0, per_page)
    rows = db.session.execute(_waiting_panels_statement(shape, works is not None, per_page, tacit, limit),
                              params).all()
    items: dict[str, list[PieceRow]] = {name: [] for name in panels}
    totals = dict.fromkeys(panels, 0)
    tacit_rows: list[TacitKeys] = []
    for row in rows:
        panel_name, total, at = row[LISTED_WIDTH:]
        if panel_name == TACIT:
            tacit_rows.append((row[0], row[1], row[10], row[9], row[5], at))  # `_listed_columns`' order
            continue
        items[panel_name].append(_listed_row(row))
        totals[panel_name] = min(int(total), limit)
    pages = {}
    for name in panels:
        total, more_than = counts.capped_total(totals[name], limit)
        pages[name] = PiecePage(items[name], total, 1, per_page, more_than)
    return PanelsRead(pages, tacit_rows)


@lru_cache(maxsize=64)
def _waiting_panels_statement(shape: tuple, by_works: bool, per_page: int, tacit: bool, limit: int):
    """The statement of `waiting_panels` for panels of these statuses (`shape`: (name, sorted statuses) per panel),
    the structure and the member's `works` bound at execution (`structure_id`, `works` when `by_works`). Built once
    per process and shape (`access.built_once`): a dozen subqueries built, given their tenant's criteria and their
    cache key again on every request were about a sixth of the Tableau de bord's CPU (bench/page_cpu.py). `tacit`:
    with the tacit validations' branch (`panels_read`); `limit`: the counts' (`counts.count_limit`, passed so that
    the statement kept follows `counts.CAP`)."""
    structure_id = bindparam("structure_id")
    works = bindparam("works") if by_works else None
    order = WAITING_ORDER
    branches = []
    for name, statuses in shape:
        # Per status of the panel, its first keys and its capped count, each an equality on the status, so that
        # both read one range of `ix_board_row_waiting_status` in the waiting order and stop there. With the
        # panel's `status IN (…)` on the waiting index instead, they filtered through the waiting rows of every
        # other status ahead of the panel's (17 811 états before the MOA's « À payer »: 36 380 rows at a million
        # pieces); PostgreSQL 15 cannot read an IN list over the status index in the waiting order.
        firsts, totals = [], []
        for status in statuses:
            conditions = waiting_conditions(structure_id, works=works, statuses=status)
            firsts.append(select(BoardRow.piece_id.label("piece_id"), BoardRow.next_due.label("next_due"),
                                 BoardRow.sort_date.label("sort_date")).where(*conditions).order_by(*order)
                          .limit(opaque_limit(per_page)))
            totals.append(counts.capped_count(conditions, limit, along=order))
        # The panel's first keys: the first of its statuses' first keys (at most per_page per status) in the
        # waiting order; its count: theirs summed, at most `limit` (`counts.capped_total` then says « plus de »).
        # Each limited SELECT as a subquery of its own: SQLite (`make run`) refuses ORDER BY / LIMIT inside a UNION
        # ALL's members; PostgreSQL plans both forms alike.
        firsts = [first.subquery() for first in firsts]
        merged = (union_all(*(select(first.c.piece_id, first.c.next_due, first.c.sort_date) for first in firsts))
                  .subquery() if len(firsts) > 1 else firsts[0])
        keys = (select(merged.c.piece_id, merged.c.next_due, merged.c.sort_date)
                .order_by(merged.c.next_due.asc().nulls_last(), merged.c.sort_date.desc(), merged.c.piece_id.desc())
                .limit(opaque_limit(per_page)).subquery()) if len(firsts) > 1 else merged
        total = sum(totals[1:], totals[0])  # at most `limit` a status; cut to `limit` when read (no `least` in SQLite)
        branches.append(select(keys.c.piece_id, keys.c.next_due, keys.c.sort_date, literal(name).label("panel"),
                               total.label("total")))
    if tacit:
        # The tacit validations (the holder's panel) as one more branch: its first keys on the partial index of
        # `tacit_at`, newest first, carried as the sort date under no clock, so that the outer order (the panel,
        # then the sort date descending, then the id) is theirs. A statement of their own was as costly to run as
        # the rows it read (bench/README, session 16). The limit hidden from the planner as for the panels: with a
        # plain one, PostgreSQL misled by the row-level security filter read every tacit row and sorted them.
        tacit_conditions = [BoardRow.structure_id == structure_id, BoardRow.tacit_at.is_not(None)]
        if works is not None:
            tacit_conditions.append(BoardRow.works == works)
        firsts = (select(BoardRow.piece_id.label("piece_id"), BoardRow.tacit_at.label("tacit_at"))
                  .where(*tacit_conditions).order_by(BoardRow.tacit_at.desc(), BoardRow.piece_id.desc())
                  .limit(opaque_limit(per_page)).subquery("tacit_keys"))
        branches.append(select(firsts.c.piece_id, cast(null(), BoardRow.next_due.type).label("next_due"),
                               firsts.c.tacit_at.label("sort_date"), literal(TACIT).label("panel"),
                               literal(0).label("total")))
    ranked = union_all(*branches).subquery("waiting_keys")
    shown = SHOWN
    return access.built_once(
        select(*_listed_columns(shown), ranked.c.panel, ranked.c.total, ranked.c.sort_date).select_from(ranked)
        .join(shown, and_(shown.structure_id == structure_id, shown.piece_id == ranked.c.piece_id))
        .order_by(ranked.c.panel, ranked.c.next_due.asc().nulls_last(), ranked.c.sort_date.desc(),
                  ranked.c.piece_id.desc()))


@dataclass(frozen=True)
class BoardPage:
    """A page of the Tableau de bord's list: its rows, how many rows the filters select (`total`; None with
    `more_than`: more than that many, not counted) and the cursors of the pages around it (None: no such page)."""

    items: list[PieceRow]
    total: int | None
    more_than: int | None
    per_page: int
    before: str | None  # the « avant » cursor of the previous page
    after: str | None  # the « apres » cursor of the next page


# How a page's keys are read (`board_page`'s `read`), chosen by `operations.dashboard.page_read` from the filters and
# their count, because PostgreSQL, misled by the row-level security filter (it estimates a structure's rows at a
# small fraction of them), picks neither reliably:
# - WALK: the sort's index in its order, from the cursor, stopping at the `per_page + 1`-th row the filters keep (the
#   limit hidden from the planner, `planning.opaque_limit`: it then plans the ordered read). Bounded by the page when
#   an index holds the filters' columns before the sort's (`ix_board_row_status_date`, `_marche`, `_emitter`, the
#   date's range of a period); else by the page × how rare the filtered rows are (used when they are more than
#   `counts.CAP`: at most about (per_page + 1) × the structure's rows / CAP entries).
# - FILTERED: every row the filters select, read through the index of one of them (at most `counts.CAP`: the
#   overview counted them), then the page's top of them sorted. Walking the sort's index instead filtered the whole
#   structure's rows for a rare company or status (a sort that is not the date has no index per filter).
# - SIFTED: the structure's rows in the sort's order from the cursor, at most `sift_rows(total)` of them (the sort's
#   index, the structure alone), kept when the filters select them, up to the page; when those rows gave less than
#   a page, FILTERED. For a filter of more than CAP rows (a status, a company, a marché) on a sort no index holds
#   after it: sorting all its rows read 27 480 of them for the titulaire's « À valider » by amount at a million
#   pieces, where its page may lie within the first hundreds of entries of the amount's index — or far along it
#   when the filter's rows gather at the other end of the sort (the sous-traitants' small amounts waiting on a
#   titulaire, recent numbers under a status of recent pieces). So at most a quarter of the filter's rows (and
#   `SIFT_ROWS`) are sifted: when that fails the read costs a quarter more than FILTERED alone.
WALK = "walk"
FILTERED = "filtered"
SIFTED = "sifted"
SIFT_ROWS = counts.CAP


def sift_rows(total: int | None, per_page: int) -> int:
    """How many of the structure's rows a SIFTED read looks at: a quarter of the `total` rows the filters select
    (what sorting them all would read), at most SIFT_ROWS, at least a page."""
    share = SIFT_ROWS if total is None else total // 4
    return max(per_page + 1, min(SIFT_ROWS, share))


def board_page(structure_id: int, conditions: KeptConditions, sort_key: str, descending: bool, *,
               after: str | None = None, before: str | None = None, per_page: int = 25, total: int | None = None,
               more_than: int | None = None, params: dict, read: str = WALK) -> BoardPage:
    """One page of the structure's list under `conditions` (on BoardRow, the structure's equality among them), in
    the sort's order with the piece id breaking ties in the same direction, starting after the `after` cursor's row
    (or, going back, ending before the `before` cursor's row). Reads `per_page + 1` entries of the sort's index past
    the cursor: one statement whatever the page's depth, plain rows (`ListedPiece`, the next clock of the board
    row).

    `conditions` are `KeptConditions`, built once with bound parameters (`structure_id` among them, the structure's
    id: `params` their values, `dashboard.bound_scope`), and the statement is built once per process for them, the
    sort, its direction, the cursor's and `read` (`access.built_once`); a period's or a number search's planned for
    its values (`KeptConditions.custom_plan`). `read`: how the keys are read (WALK, FILTERED, SIFTED: FILTERED again
    when the rows sifted gave less than a page)."""
    assert params["structure_id"] == structure_id
    after_mark = cursors.decode(sort_key, after)
    before_mark = cursors.decode(sort_key, before) if after_mark is None else None
    backwards = before_mark is not None
    mark = after_mark if after_mark is not None else before_mark
    toward = "after" if after_mark is not None else ("before" if backwards else None)
    values = dict(params) if mark is None else {**params, "mark_value": mark[0], "mark_id": mark[1]}
    if read == SIFTED:
        values["sift_rows"] = sift_rows(total, per_page)

    def statement_for(read: str):
        return _kept_page_statement(conditions, sort_key, descending, toward, per_page, read)

    rows = db.session.execute(statement_for(read), values).all()
    if read == SIFTED and len(rows) <= per_page:
        # Less than a page among the rows sifted: the page's rows lie further along the sort (or there are no more):
        # the filtered rows sorted say which.
        rows = db.session.execute(statement_for(FILTERED), values).all()
    more = len(rows) > per_page
    rows = rows[:per_page]
    if backwards:
        rows.reverse()
    items = [_listed_row(row) for row in rows]
    first = cursors.encode(sort_key, rows[0][LISTED_WIDTH], rows[0][0]) if rows else None
    last = cursors.encode(sort_key, rows[-1][LISTED_WIDTH], rows[-1][0]) if rows else None
    if backwards:
        previous, following = (first if more else None), last
    else:
        previous, following = (first if after_mark is not None else None), (last if more else None)
    return BoardPage(items, total, more_than, per_page, previous, following)


class KeptConditions:
    """Conditions on BoardRow built once per process with bound parameters, the same object on every request of
    their shape: the statements built from them are kept per object (its identity: SQL expressions compare into
    expressions, not booleans, and cannot be a cache's key themselves). `custom_plan`: the statements reading them
    are planned for their values (`plan_cache.custom_plan`) — a period's or a number search's: under its generic
    plan a number search read 41 550 rows instead of 108 at 100 000 pieces, a range of the number it could not
    see."""

    __slots__ = ("conditions", "custom_plan", "floor")

    def __init__(self, conditions, custom_plan: bool = False, floor=None):
        self.conditions = tuple(conditions)
        self.custom_plan = custom_plan
        # A lower bound of the rows the conditions select, read from index entries alone (`counts.deposited_floor`:
        # a period alone), which their capped count reads before their rows (`counts.capped_groups`); or None.
        self.floor = floor

    def marked(self, statement):
        """`statement`, marked `plan_cache.custom_plan` when these conditions ask for it."""
        return plan_cache.custom_plan(statement) if self.custom_plan else statement


@lru_cache(maxsize=512)
def _kept_page_statement(conditions: KeptConditions, sort_key: str, descending: bool, toward: str | None, per_page: int,
                         read: str = WALK):
    """`_page_statement` for conditions built once:
    building the page's statement, its tenant's criteria and its cache key on every request was about a twentieth
    of the Tableau de bord's CPU (bench/page_cpu.py)."""
    return conditions.marked(access.built_once(_page_statement(
        bindparam("structure_id"), list(conditions.conditions), sort_key, descending, toward, per_page, read)))


# The columns a SIFTED read's filters may name (`dashboard.page_read` sifts only dimensions of the rollups).
SIFTED_COLUMNS = ("structure_id", "works", "marche_id", "emitter_party_id", "cadre", "status")


def _page_statement(structure_id, conditions: list, sort_key: str, descending: bool, toward: str | None,
                    per_page: int, read: str = WALK):
    """The statement of a page of the list: `toward` the cursor's side ("after", "before", None: the first page),
    the cursor's row bound as `mark_value` and `mark_id`; its keys read as `read` says (WALK, FILTERED,
    SIFTED)."""
    column = SORT_COLUMNS[sort_key]
    key = tuple_(column, BoardRow.piece_id)
    mark = tuple_(bindparam("mark_value", type_=column.type), bindparam("mark_id", type_=BoardRow.piece_id.type))
    from_mark = []
    if toward == "after":
        from_mark = [key < mark if descending else key > mark]
    elif toward == "before":
        from_mark = [key > mark if descending else key < mark]
    filters, conditions = conditions, [*conditions, *from_mark]
    # Going back reads the index the other way from the cursor, then shows the rows in the page's order.
    reverse = descending != (toward == "before")

    def in_order(value, piece_id) -> list:  # the sort's value, then the piece id, in the direction read
        return [value.desc(), piece_id.desc()] if reverse else [value.asc(), piece_id.asc()]

    # Two steps in one statement: the page's keys first — (piece_id, sort value) only, which the sort's index holds,
    # so PostgreSQL reads per_page + 1 entries of it backwards or forwards (an index-only scan) — then their rows
    # by primary key. Selecting the wide rows directly let the planner, misled by the row-level security filter
    # repeating the structure's equality (estimated 44 rows for 1 579), read every row of the structure and sort
    # them (42 ms for the MOA at 20 000 pieces; 0.8 ms in two steps).
    if read == SIFTED:
        # The structure's rows from the cursor in the sort's order (its index, the structure alone: the walk of an
        # unfiltered page), at most `sift_rows` under a limit hidden from the planner, with the columns the filters
        # read; the filters on them outside (a subquery with a LIMIT keeps its conditions apart), up to the page.
        walked = (select(BoardRow.piece_id.label("piece_id"), column.label("sort_value"),
                         *(BoardRow.__table__.c[name] for name in SIFTED_COLUMNS))
                  .where(BoardRow.structure_id == structure_id, *from_mark)
                  .order_by(*in_order(column, BoardRow.piece_id))
                  .limit(opaque_limit(bindparam("sift_rows", type_=Integer))).subquery("walked"))
        sifted = ClauseAdapter(walked)
        keys = (select(walked.c.piece_id, walked.c.sort_value).where(*(sifted.traverse(c) for c in filters))
                .order_by(*in_order(walked.c.sort_value, walked.c.piece_id)).limit(per_page + 1)
                .subquery("page_keys"))
    elif read == FILTERED:
        # The filtered rows apart (OFFSET 0: a subquery PostgreSQL plans on its own, without the sort's order, hence
        # through the filters' index), then their top sorted.
        selected = (select(BoardRow.piece_id.label("piece_id"), column.label("sort_value")).where(*conditions)
                    .offset(0).subquery("selected"))
        keys = (select(selected.c.piece_id, selected.c.sort_value)
                .order_by(*in_order(selected.c.sort_value, selected.c.piece_id)).limit(per_page + 1)
                .subquery("page_keys"))
    else:
        keys = (select(BoardRow.piece_id.label("piece_id"), column.label("sort_value")).where(*conditions)
                .order_by(*in_order(column, BoardRow.piece_id)).limit(opaque_limit(per_page + 1))
                .subquery("page_keys"))
    shown = SHOWN
    return (select(*_listed_columns(shown), keys.c.sort_value)
            .select_from(keys)
            .join(shown, and_(shown.structure_id == structure_id, shown.piece_id == keys.c.piece_id))
            .order_by(*in_order(keys.c.sort_value, keys.c.piece_id)))


def clock_page(structure_id: int, panel: str, works: bool | None, limit: int):
    """The open clocks of a panel (`board.rows.CLOCK_PANELS[panel]`) on the pieces the structure sees in one of the
    panel's parts, earliest due first (then the clock's id): the plain columns of the first `limit` (`CLOCK_COLUMNS`,
    the emitter's name, the clock's id, kind and due instant), how many there are and, beyond `counts.CAP`, « plus de CAP » (`counts.capped_total`: total, more_than).
    One statement on the panel's partial index — the structure's rows holding such a clock, not its history —: the
    page's rows read by primary key, their count a scalar subquery beside them (no row: none to count)."""
    rows = db.session.execute(clock_statement(panel, works, limit), {"structure_id": structure_id}).all()
    return clock_page_of(rows, limit)


def clock_page_of(rows, limit: int):
    """`clock_page`'s answer from the rows of its statement (`clock_statement`), however they were read."""
    total, more_than = counts.capped_total(int(rows[0][-1]) if rows else 0, counts.count_limit(0, limit))
    return [tuple(row[:-1]) for row in rows], total, more_than


# A clock panel's piece and marché, as plain columns (`dashboard.ClockPiece`, `ClockMarche`).
CLOCK_COLUMNS = (Piece.id, Piece.number, Piece.cadre, Piece.piece_type, Piece.status, Piece.montant_ttc,
                 Piece.accepted_amount, Piece.accepted_why, Piece.received_at, Piece.paid_on, Piece.route, Marche.id,
                 Marche.reference, Marche.dgp_days)


# Where a clock row of `clock_statement` holds its clock's id and due instant (its order: due, then id).
CLOCK_ID_AT, CLOCK_DUE_AT = len(CLOCK_COLUMNS) + 1, len(CLOCK_COLUMNS) + 3


@lru_cache(maxsize=32)
def clock_statement(panel: str, works: bool | None, limit: int):
    """`clock_page`'s statement, the structure bound at execution: built once per process for each panel, rights'
    variant and size (its subqueries and their cache key cost about as much as running it, up to three times on a
    Tableau de bord: bench/page_cpu.py). The SQL is the same."""
    structure_id = bindparam("structure_id", type_=Integer)
    clock_id = BoardRow.__table__.c[f"{panel}_clock_id"]
    due = BoardRow.__table__.c[f"{panel}_due"]
    conditions = [BoardRow.structure_id == structure_id, clock_id.is_not(None)]  # the partial index's predicate
    if works is not None:
        conditions.append(BoardRow.works == works)
    # The count reads at most CAP + 1 entries of the panel's index, in its order (so that the read stops there): an
    # exact count read every clock of the structure — 21 778 index entries for the maître d'ouvrage's payments at a
    # million pieces, for a panel showing eight.
    counted = counts.capped_count(conditions, counts.count_limit(0, limit), along=(due, clock_id))
    # Two steps, as the list's pages: the keys from the panel's index alone (an index-only scan of `limit` entries;
    # with a column of the row among them, PostgreSQL misled by the RLS filter read all the structure's clocks and
    # sorted them), then the rows by primary key.
    keys = (select(BoardRow.piece_id.label("piece_id"), clock_id.label("clock_id"), due.label("due"))
            .where(*conditions).order_by(due, clock_id).limit(limit).subquery("clock_keys"))
    shown = SHOWN
    # Plain columns, those the panels show and the interest's rule reads (`dashboard.ClockPiece`): the three
    # entities whole were some eighty columns converted and three ORM objects a row.
    return access.built_once(
        select(*CLOCK_COLUMNS, shown.emitter_name, Deadline.id, Deadline.kind, Deadline.due_at,
               counted.label("total")).select_from(keys)
        .join(shown, and_(shown.structure_id == structure_id, shown.piece_id == keys.c.piece_id))
        .join(Piece, Piece.id == keys.c.piece_id).join(Marche, Marche.id == Piece.marche_id)
        .join(Deadline, Deadline.id == keys.c.clock_id).order_by(keys.c.due, keys.c.clock_id))
