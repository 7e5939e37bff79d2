"""`flask board recompute [--check]`: the read model rebuilt from the pieces by the very SELECT refresh() uses
(`rows.board_select`, for every piece at once), compared with what is stored, and — without --check — corrected.

Set-based: the expected rows go into a temporary table once; missing, extra and different rows are three
anti-joins / one join on the primary key; the rollups compare the expected rows' GROUP BY with the sums of
`board_count`'s deltas, bucket by bucket, and each coarser rollup (`coarse`) with the projection of that GROUP BY —
a batch of structures at a time, so that memory stays bounded whatever the platform's size.
A correction rewrites the rows of the pieces that differ and inserts one
delta per bucket that differs, then compacts. Run by an operator (or after a bulk seeding), not on a user's behalf:
system access, stated.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from sqlalchemy import Column, Integer, MetaData, Table, and_, delete, exists, func, insert, or_, select, union

from chorus_chain.access import system_access
from chorus_chain.models import BoardCount, BoardRow
from chorus_chain.operations.board import coarse, money, rows
from chorus_chain.operations.board.maintain import flush_pending

MONEY_LINES = "board_money_line"  # « Montants par entreprise »'s lines and totals (`money.check`)
WHY = "flask board recompute: the read model against the pieces, every structure"
KEY = ("structure_id", "piece_id")


@dataclass
class Differences:
    """What the stored read model differs in from the pieces (all zero: it is exact)."""

    rows: int = 0  # rows the pieces give
    missing: int = 0  # rows the pieces give that are not stored
    extra: int = 0  # rows stored that the pieces do not give
    different: int = 0  # rows stored with another value in a column
    buckets_different: int = 0  # rollup buckets whose summed deltas differ from the rows' GROUP BY
    # The same for each coarser rollup (`coarse`): table → keys whose summed deltas differ from the projection of
    # the rows' GROUP BY.
    coarse_different: dict[str, int] = field(default_factory=dict)
    pieces: list[int] = field(default_factory=list)  # some of the pieces concerned (for the report)
    fixed: bool = False

    @property
    def total(self) -> int:
        return (self.missing + self.extra + self.different + self.buckets_different
                + sum(self.coarse_different.values()))


def _temporary(name: str, columns) -> Table:
    return Table(name, MetaData(), *columns, prefixes=["TEMPORARY"])


def recompute(*, check: bool = False) -> Differences:
    """Compare the read model with the pieces; unless `check`, correct it (and compact the rollups)."""
    from chorus_chain.extensions import db

    session = db.session
    flush_pending(session())
    stored = BoardRow.__table__
    expected = _temporary("board_expected", [Column(c.name, c.type, primary_key=c.primary_key)
                                            for c in stored.columns])
    stale = _temporary("board_stale", [Column("piece_id", Integer, primary_key=True)])
    found = Differences()
    with system_access(WHY):
        connection = session.connection()
        expected.create(connection)
        stale.create(connection)
        try:
            session.execute(insert(expected).from_select(rows.COLUMNS, rows.board_select()))
            found.rows = session.scalar(select(func.count()).select_from(expected))
            same_key = [stored.c[name] == expected.c[name] for name in KEY]
            missing = select(expected.c.piece_id).where(~exists().where(*same_key))
            extra = select(stored.c.piece_id).where(~exists().where(*same_key))
            changed = or_(*(stored.c[name].is_distinct_from(expected.c[name])
                            for name in rows.COLUMNS if name not in KEY))
            different = select(stored.c.piece_id).join(expected, and_(*same_key)).where(changed)
            found.missing = session.scalar(select(func.count()).select_from(missing.subquery()))
            found.extra = session.scalar(select(func.count()).select_from(extra.subquery()))
            found.different = session.scalar(select(func.count()).select_from(different.subquery()))
            session.execute(insert(stale).from_select(["piece_id"], union(missing, extra, different)))
            found.pieces = list(session.scalars(select(stale.c.piece_id).order_by(stale.c.piece_id).limit(20)))
            for rollup in coarse.ROLLUPS:
                found.coarse_different[rollup.table.name] = 0
            found.coarse_different[MONEY_LINES] = 0
            fix = not check
            for lo, hi in _structure_batches(session, expected):
                # A batch of structures at a time: every key starts with the structure, so a batch's sums are
                # whole, and memory holds one batch's buckets rather than the platform's (960 MB at 1 000 000
                # pieces when every bucket was read at once). Its corrections are written before the next batch
                # is read: batches share no structure, so none reads another's corrections.
                want = _sums(session.execute(rows.grouped(expected, expected.c.structure_id.between(lo, hi))))
                have = _sums(session.execute(rows.grouped_deltas(BoardCount.structure_id.between(lo, hi))))
                corrections = _subtract(want, have)
                found.buckets_different += len(corrections)
                if fix and corrections:
                    session.execute(insert(BoardCount.__table__), corrections)
                projected = coarse.project(want)
                for rollup in coarse.ROLLUPS:
                    in_batch = rollup.table.c.structure_id.between(lo, hi)
                    stored_sums = coarse.sums(session.execute(coarse.grouped(rollup, in_batch)), rollup)
                    rows_to_add = _difference(rollup, projected[rollup], stored_sums)
                    found.coarse_different[rollup.table.name] += len(rows_to_add)
                    if fix and rows_to_add:
                        session.execute(insert(rollup.table), rows_to_add)
                # « Montants par entreprise »: its lines and totals against the parties and the expected rollup.
                found.coarse_different[MONEY_LINES] += money.check(session, lo, hi, projected[coarse.PARTY], fix)
            if fix and found.total:
                stale_ids = select(stale.c.piece_id)
                session.execute(delete(stored).where(stored.c.piece_id.in_(stale_ids)))
                session.execute(insert(stored).from_select(
                    rows.COLUMNS, select(*(expected.c[name] for name in rows.COLUMNS))
                    .where(expected.c.piece_id.in_(stale_ids))))
                found.fixed = True
        finally:
            stale.drop(connection)
            expected.drop(connection)
    if found.fixed:
        from chorus_chain.operations.board.rollup import compact

        compact()
    return found


def _sums(result) -> dict[tuple, list]:
    width = len(rows.BUCKET)
    sums = {}
    for row in result:
        values = [rows.money(value) for value in row[width:]]
        if any(values):
            sums[tuple(row[:width])] = values
    return sums


def _subtract(want: dict, have: dict) -> list[dict]:
    """One correction delta per bucket whose sums differ (want − have)."""
    corrections = []
    for key in set(want) | set(have):
        a, b = want.get(key, [0] * len(rows.MEASURES)), have.get(key, [0] * len(rows.MEASURES))
        delta = [x - y for x, y in zip(a, b)]
        if any(delta):
            values = dict(zip(rows.BUCKET, key))
            for name, value in zip(rows.MEASURES, delta):
                values[name] = value
            corrections.append(values)
    return corrections


def _difference(rollup, want: dict, have: dict) -> list[dict]:
    """One correction delta per key of a coarser rollup whose sums differ (want − have)."""
    zero = [0] * len(rollup.measures)
    differences = {}
    for key in set(want) | set(have):
        delta = [x - y for x, y in zip(want.get(key, zero), have.get(key, zero))]
        if any(delta):
            differences[key] = delta
    return coarse.as_rows(rollup, differences)


BATCH_STRUCTURES = 32


def _structure_batches(session, expected: Table):
    """(first, last) structure id of each batch of BATCH_STRUCTURES structures having rows in the expected rows, in
    board_count or in a coarser rollup (a structure with stored sums and no piece any more must be corrected too)."""
    size = BATCH_STRUCTURES
    tables = [expected, BoardCount.__table__, *(rollup.table for rollup in coarse.ROLLUPS)]
    ids = set(session.scalars(union(*(select(table.c.structure_id) for table in tables))))
    ids = sorted(ids | set(money.structures(session)))  # a titulaire's lines may have no piece yet
    for start in range(0, len(ids), size):
        batch = ids[start:start + size]
        yield batch[0], batch[-1]
