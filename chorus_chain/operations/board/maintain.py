"""Keeping the read model true in the transaction of each change (issue 20: no eventual drift).

- `refresh(piece_ids)`: delete the board rows of those pieces, insert the rows `rows.board_select` builds for them,
  insert the rollup deltas (new − old, per bucket of board_count, and their projections on the coarser rollups of
  `coarse`) — a fixed handful of statements, whatever the number of pieces.
  It writes the rows of every structure that sees the pieces: the one place that does so with tenancy switched off
  (`system_access`), for no user's reading.
- `touch(piece_ids)`: the pieces are stale in this session; they are refreshed before the transaction commits and
  before any read of the board tables in it. The ORM's flushes touch what they change by themselves (session
  hook below); Core `insert()` / `update()` on the source tables must call `touch` (or `refresh`).

What feeds a board row (and so touches its piece): the piece, its access rows, its deadlines, its events, the
état d'acompte that carries it (its status), the name and SIRET of its emitter, the reference of its marché, the
payment term its emitting party agreed (a private invoice's due date), whether a late payment's interest is paid
(the interest panels' clock of the piece it hangs on).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from functools import lru_cache
from dataclasses import dataclass

from sqlalchemy import (Integer, Select, String, and_, any_, bindparam, delete, event, func, insert, inspect, or_,
                        select, union_all, update)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from chorus_chain.access import is_system, system_access
from chorus_chain.models import (
    BoardCadreMarcheCount,
    BoardCount,
    BoardMarcheCount,
    BoardMoneyDelta,
    BoardMoneyLine,
    BoardMoneyTotal,
    BoardPartyCount,
    BoardRow,
    BoardStatusCount,
    BoardStatusMarcheCount,
    Deadline,
    EtatAcompte,
    EtatAcomptePdm,
    LinePayment,
    Marche,
    MarcheParty,
    Piece,
    PieceAccess,
    PieceEvent,
    Structure,
)
from chorus_chain.operations import bulk
from chorus_chain.operations.board import coarse, money, rows
from chorus_chain.operations.board.pending import PENDING, pending_of

_BUSY = "board_refreshing"
# The rows of these pieces' viewers are written by refresh only, under system access: say why, once.
WHY = "board read model: rows of the pieces this transaction changed"


def _db():
    from chorus_chain.extensions import db

    return db


def refresh(piece_ids: Iterable[int]) -> int:
    """Rebuild the board rows of these pieces (for every structure that sees them) and add the rollup deltas, now,
    in the current transaction. Returns the number of rows written. Ids of pieces that no longer exist are fine
    (their rows go, their buckets get the negative delta)."""
    ids = sorted({int(piece_id) for piece_id in piece_ids})
    if not ids:
        return 0
    session = _db().session
    table = BoardRow.__table__
    with _system():
        if session.get_bind().dialect.name == "postgresql":
            # Two transactions refreshing the same piece take turns on its row, and the second one's statements
            # then see the first one's rows (READ COMMITTED takes a snapshot per statement): no duplicate key.
            # Transactions on different pieces never meet here, nor on any other row (the deltas are inserts).
            piece = Piece.__table__
            # The statements below under generic plans (`_generic_plans`); the connection's mode read back first.
            previous = session.execute(_generic_plans()).scalar_one()
            session.execute(select(piece.c.id).where(bulk.among(piece.c.id, ids)).order_by(piece.c.id)
                            .with_for_update(key_share=True))  # FOR NO KEY UPDATE: inserts pointing at it pass
            # The rows and their rollup deltas in one statement, the deltas summed there (`_in_place`), which sets
            # the plan cache's mode back to `previous` for the rest of the transaction.
            return session.execute(_in_place(table), {"piece_ids": ids, PLAN_MODE: previous}).first()[0]
        # SQLite (`make run`, the SQLite tests): the rows deleted and inserted again, the deltas summed here.
        counted = (*rows.bucket(table).values(), *rows.measures(table).values())
        old = session.execute(delete(table).where(table.c.piece_id.in_(ids)).returning(*counted)).all()
        new = session.execute(insert(table).from_select(rows.COLUMNS, rows.board_select(ids))
                              .returning(*counted)).all()
        deltas = _deltas(old, new)
        if deltas:
            # board_count's deltas and their projections on the coarser rollups (`coarse`), in one statement
            # whatever their number (`operations.bulk`): a batch of the sweep writes a thousand or two, which an
            # executemany sent as as many statements.
            projected = coarse.project(deltas, coarse.WRITTEN)
            bulk.insert_into_each([(BoardCount.__table__, _bucket_rows(deltas)),
                                   *((rollup.table, coarse.as_rows(rollup, projected[rollup]))
                                     for rollup in coarse.WRITTEN)])
    return len(new)


PLAN_MODE = "plan_cache_mode"


@lru_cache(maxsize=1)
def _generic_plans():
    """The transaction's `plan_cache_mode` as it was (the one column), and `force_generic_plan` from now on: the
    refresh's statements keep one plan per connection, whatever the pieces, until `_in_place` sets it back.

    Why (bench/explain_refresh.py, issue 20): the connections plan each execution for its parameters
    (`extensions.tune_postgresql`: the pages' skewed structures), and `_in_place` names a dozen tables and their
    indexes: planning it was ~5 ms of the database's CPU for a user's action, which then ran in ~1 ms (one piece:
    6.5 → 1.0 ms of CPU a refresh under its generic plan; a sweep's batch of 500: 48 → 38 ms). Its generic plan is
    its custom plan — each step an index probe per piece, or a hash over the pieces' rows — for one piece and for
    500 (the same buffers read: `--generic`); under `auto` PostgreSQL would never choose it for one piece, the custom
    plan of a one-element array looking cheaper. The setting is the transaction's (`set_config(…, true)`): a failed
    refresh rolls it back with the rest. The previous value is read in a WITH, materialized before the setting
    changes: the statement's one row gives it as it was."""
    previous = select(func.current_setting(PLAN_MODE).label("mode")).cte("previous").prefix_with("MATERIALIZED")
    return select(previous.c.mode, func.set_config(PLAN_MODE, "force_generic_plan", True))


# The columns a board row's key is made of; the others are rewritten in place when they change.
KEY = ("structure_id", "piece_id")
VALUES = tuple(name for name in rows.COLUMNS if name not in KEY)


@lru_cache(maxsize=1)
def _in_place(table):
    """PostgreSQL: the board rows of the pieces `piece_ids` brought to what `rows.board_select` gives, in one statement,
    writing only what differs — a row that changed is updated in place, a row the pieces no longer give is deleted,
    a new one inserted, an unchanged one left alone — and (old rows' measures, new rows' measures) returned for the
    deltas, as the DELETE … RETURNING and INSERT … RETURNING this replaces gave them.

    Why (bench/deadline_sweep.py, issue 20): deleting every row of a piece and inserting it again wrote each row
    twice in the heap (the delete, then the new tuple: two WAL records) in two statements; an UPDATE writes the new
    version in one record, and a row whose values did not change (a viewer the change does not concern) costs
    nothing. Each data-modifying WITH sees the same snapshot, taken after the pieces' lock above: they touch
    disjoint keys, and `old_row` is what they replace.

    The new and old rows are paired by a FULL JOIN (PostgreSQL runs it as a hash or merge join, never a nested
    loop: a WITH's row count is unknown to the planner, which ran an anti-join of two of them as one — quadratic,
    5 s for a batch's 2 000 rows); each write then reads its own rows of the pairing, and finds the stored row by
    its primary key.

    Built once per process, the pieces bound at execution (`piece_ids`, an array): building board_select
    and the WITHs' column collections again on every call was ~90 ms of Python for a single piece's refresh, more
    than the statement itself (bench: a user's action refreshes one piece).

    The rollup deltas are summed and written by the same statement: the old rows' measures negated and the new
    rows' added up per bucket of board_count (`delta`, the buckets netting to zero left out — an unchanged row's two
    sides cancel), inserted into board_count, and projected on each coarser rollup (`coarse.projected`) and inserted
    there. It returns the number of rows the pieces now have. Why (bench/deadline_sweep.py, issue 20): a sweep's
    batch fetched both sides of its ~2 000 rows (4 000 rows of twelve values), summed them in Python as Decimals,
    projected them on five rollups in Python and sent the sums back as JSON — the read model's phase's CPU.
    What it writes is what `_deltas`, `coarse.project` and `coarse.as_rows` give (SQLite's path, and the check of
    `rebuild.recompute`)."""
    ids = bindparam("piece_ids", type_=ARRAY(Integer))  # one array parameter, not a placeholder per piece (bulk.among)
    new = rows.board_select(ids).cte("new_row").prefix_with("MATERIALIZED")
    old = select(table).where(table.c.piece_id == any_(ids)).cte("old_row").prefix_with("MATERIALIZED")
    # IS DISTINCT FROM column by column (NULLs equal), as `rebuild.recompute` compares the stored rows.
    differs = or_(*(old.c[name].is_distinct_from(new.c[name]) for name in VALUES))
    pair = (select(*(new.c[name] for name in rows.COLUMNS),
                   *(old.c[name].label(f"old_{name}") for name in KEY), differs.label("differs"))
            .select_from(new.join(old, and_(*(new.c[name] == old.c[name] for name in KEY)), full=True))
            .cte("paired_row").prefix_with("MATERIALIZED"))
    kept = and_(pair.c.piece_id.is_not(None), pair.c.old_piece_id.is_not(None))
    gone = (delete(table).where(pair.c.piece_id.is_(None),
                                *(table.c[name] == pair.c[f"old_{name}"] for name in KEY))
            .cte("gone_row"))
    changed = (update(table).values({name: pair.c[name] for name in VALUES})
               .where(kept, pair.c.differs, *(table.c[name] == pair.c[name] for name in KEY))
               .cte("changed_row"))
    added = (insert(table).from_select(rows.COLUMNS, select(*(pair.c[name] for name in rows.COLUMNS))
                                       .where(pair.c.old_piece_id.is_(None)))
             .cte("added_row"))
    sides = [select(*(column.label(name) for name, column in rows.bucket(found).items()),
                    *((column if sign > 0 else -column).label(name) for name, column in rows.measures(found).items()))
             for sign, found in ((-1, old), (1, new))]
    change = union_all(*sides).subquery("change")
    sums = [func.sum(change.c[name]) for name in rows.MEASURES]
    delta = (select(*(change.c[name] for name in rows.BUCKET), *(total.label(name) for total, name in
                                                                  zip(sums, rows.MEASURES)))
             .group_by(*(change.c[name] for name in rows.BUCKET)).having(or_(*(total != 0 for total in sums)))
             .cte("delta").prefix_with("MATERIALIZED"))
    counted = (insert(BoardCount.__table__)
               .from_select([*rows.BUCKET, *rows.MEASURES], select(*(delta.c[name] for name in
                                                                     (*rows.BUCKET, *rows.MEASURES))))
               .cte("counted_delta"))
    rolled = [insert(rollup.table).from_select([*rollup.keys, *rollup.measures], coarse.projected(rollup, delta))
              .cte(f"{rollup.table.name}_delta") for rollup in coarse.WRITTEN]
    # The plan cache's mode set back as it was before `_generic_plans` (the transaction's next statements are not
    # the refresh's): evaluated as the statement runs, after it was planned.
    restored = func.set_config(PLAN_MODE, bindparam(PLAN_MODE, type_=String), True)
    return select(func.count(), restored).select_from(new).add_cte(gone, changed, added, counted, *rolled)


def _system():
    """System access for refresh (the one narrow place), entered once: already in it (the sweep, the recompute),
    no second round of settings."""
    return nullcontext() if is_system() else system_access(WHY)


def _deltas(old, new) -> dict[tuple, list]:
    """Per bucket (`rows.BUCKET` order), new − old (`rows.MEASURES` order); buckets whose every measure nets to
    zero left out."""
    width = len(rows.BUCKET)
    totals: dict[tuple, list] = defaultdict(lambda: [0] * len(rows.MEASURES))
    for sign, found in ((-1, old), (1, new)):
        for row in found:
            sums = totals[tuple(row[:width])]
            for index, value in enumerate(row[width:]):
                sums[index] += sign * rows.money(value)
    return {key: sums for key, sums in totals.items() if any(sums)}


def _bucket_rows(deltas: dict[tuple, list]) -> list[dict]:
    """board_count's rows for these deltas."""
    return [{**dict(zip(rows.BUCKET, key)), **dict(zip(rows.MEASURES, sums))} for key, sums in deltas.items()]


def flush_pending(session: Session | None = None) -> int:
    """Refresh what this transaction made stale (the session hook calls it before commit and before a read of the
    board tables). Returns the number of rows written."""
    session = session or _db().session()
    if session.info.get(_BUSY):
        return 0
    session.info[_BUSY] = True
    try:
        if session.new or session.dirty or session.deleted:
            session.flush()
        pending = session.info.pop(PENDING, None)
        if not pending or not any(pending.values()):
            return 0
        ids = set(pending["pieces"])
        # One system access for the whole refresh (its settings are two statements: entered once, not twice).
        with _system():
            # Rarer changes that make many pieces stale, resolved now (one query each, only when they happened).
            for source in _SOURCES.values():
                if pending[source.key]:
                    ids.update(session.scalars(source.pieces(pending[source.key])))
            written = refresh(ids)
            # The money lines of the parties that changed (and of a marché whose reference did), after the pieces:
            # rewritten from the rollup this refresh just wrote (`money.refresh_lines`).
            if pending["money_parties"] or pending["marches"]:
                money.refresh_lines(pending["money_parties"], pending["marches"])
            return written
    finally:
        session.info.pop(_BUSY, None)


# ---------------------------------------------------------------------------------------------------------------------
# The session hook

@dataclass(frozen=True)
class _Source:
    """A row some facts of which many board rows copy: when one of those `facts` changes (or, with `when_new`, when
    the row is new), its id is kept under `key` of the pending set, and `pieces(ids)` selects the pieces to refresh."""

    key: str
    facts: tuple[str, ...]
    pieces: Callable[[set[int]], Select]
    when_new: bool = False

    def stale(self, session: Session, instance) -> bool:
        if instance in session.new:
            return self.when_new
        state = inspect(instance)
        return any(state.attrs[name].history.has_changes() for name in self.facts)


_SOURCES = {
    # The status of the état d'acompte that carries a piece (a new état: its pieces' rows name it).
    EtatAcompte: _Source("etats", ("status",), lambda ids: select(EtatAcomptePdm.piece_id).where(
        EtatAcomptePdm.etat_acompte_id.in_(ids)), when_new=True),
    # The name and SIRET of a piece's emitter.
    Structure: _Source("emitters", ("name", "siret"), lambda ids: select(Piece.id).where(
        Piece.emitter_structure_id.in_(ids))),
    # The reference of its marché.
    Marche: _Source("marches", ("reference",), lambda ids: select(Piece.id).where(Piece.marche_id.in_(ids))),
    # The payment term its emitting party agreed: a private invoice's due date (board_row.private_due).
    MarcheParty: _Source("parties", ("commercial_term_days", "commercial_term_end_of_month"),
                         lambda ids: select(Piece.id).where(Piece.emitter_party_id.in_(ids))),
    # Whether a late payment's interest is paid: the interest panels' clock of its piece (board_row.interest_*),
    # which, lapsed at the sweep, does not change itself.
    LinePayment: _Source("payments", ("interest_paid_on",), lambda ids: select(Deadline.piece_id).where(
        Deadline.line_payment_id.in_(ids), Deadline.piece_id.is_not(None))),
}


# What a line of « Montants par entreprise » copies of its party, or decides whether it is one (`money.members`;
# a parent's status and structure decide its children's lines: `money.refresh_lines` takes them too).
_MONEY_FACTS = ("status", "parent_id", "role", "montant_ttc", "name", "structure_id", "marche_id")


def _money_stale(session: Session, instance) -> bool:
    if instance in session.new or instance in session.deleted:
        return True
    state = inspect(instance)
    return any(state.attrs[name].history.has_changes() for name in _MONEY_FACTS)


def _after_flush(session: Session, flush_context) -> None:
    pending = None
    for instance in (*session.new, *session.dirty, *session.deleted):
        if isinstance(instance, MarcheParty) and _money_stale(session, instance):
            pending = pending or pending_of(session)
            pending["money_parties"].add(instance.id)
        source = _SOURCES.get(type(instance))
        if source is not None:
            if source.stale(session, instance):
                pending = pending or pending_of(session)
                pending[source.key].add(instance.id)
            continue
        piece_id = None
        if isinstance(instance, Piece):
            piece_id = instance.id
        elif isinstance(instance, (PieceAccess, PieceEvent, EtatAcomptePdm, Deadline)):
            piece_id = instance.piece_id  # None for a DC4's clock: no piece
        if piece_id is not None:
            pending = pending or pending_of(session)
            pending["pieces"].add(piece_id)


def _before_commit(session: Session) -> None:
    flush_pending(session)


def _forget(session: Session, transaction) -> None:
    """The outermost transaction ended (committed: already refreshed; rolled back: nothing to refresh)."""
    if transaction.parent is None:
        session.info.pop(PENDING, None)


_BOARD_TABLES = (BoardRow, BoardCount, BoardStatusCount, BoardMarcheCount, BoardStatusMarcheCount,
                 BoardCadreMarcheCount, BoardPartyCount, BoardMoneyDelta, BoardMoneyLine, BoardMoneyTotal)


def _reads_board(state) -> bool:
    return any(mapper.class_ in _BOARD_TABLES for mapper in state.all_mappers)


def _do_orm_execute(state) -> None:
    """A read of the board tables in a transaction that changed pieces sees those changes."""
    session = state.session
    if state.is_select and session.info.get(PENDING) and not session.info.get(_BUSY) and _reads_board(state):
        flush_pending(session)


_installed = False


def install() -> None:
    """Register the session hook (once per process; create_app calls it)."""
    global _installed
    if _installed:
        return
    event.listen(Session, "after_flush", _after_flush)
    event.listen(Session, "before_commit", _before_commit)
    event.listen(Session, "after_transaction_end", _forget)
    event.listen(Session, "do_orm_execute", _do_orm_execute)
    _installed = True
