"""Folding the rollup deltas: `board_count` (and each coarser rollup of `coarse`, the same way) receives one insert
per bucket a transaction changes (+ in the new bucket, − in the old one), never an update, so that transactions on
pieces of the same structure never queue on a counter row. `compact()` now and then replaces the rows of each
bucket that has several by their sum (none if the sum is zero), so that a read sums a few rows per bucket.

Never blocking a user: user transactions only insert into board_count (no row lock they could wait on); the
compaction deletes exactly the rows it read (DELETE … RETURNING, one statement) and inserts their sums, and two
compactions never run at once (a transaction-level advisory lock, tried, not waited for, on PostgreSQL).
Run by the deadline clock after each sweep (`operations.deadlines`), and by `flask board recompute`.
"""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import delete, func, insert, select, tuple_

from chorus_chain.access import system_access
from chorus_chain.models import BoardCount
from chorus_chain.operations.board import coarse, money, rows

LOCK_KEY = money.LOCK_KEY  # pg_try_advisory_xact_lock key of the compaction (issue 20)
BATCH_BUCKETS = 10_000  # buckets folded per call: a bounded transaction
WHY = "board read model: folding the rollup deltas of every structure"


def compact(limit: int = BATCH_BUCKETS) -> int:
    """Fold the deltas of up to `limit` buckets that hold several rows, in board_count and in each coarser rollup
    (`coarse`); returns the number of buckets folded (0 when another compaction holds the lock). Flushes nothing,
    commits nothing."""
    from chorus_chain.extensions import db

    session = db.session
    with system_access(WHY):
        if session.get_bind().dialect.name == "postgresql" and not session.scalar(
                select(func.pg_try_advisory_xact_lock(LOCK_KEY))):
            return 0
        folded = _fold(session, BoardCount.__table__, rows.BUCKET, rows.MEASURES, limit)
        for rollup in coarse.ROLLUPS:
            folded += _fold(session, rollup.table, rollup.keys, rollup.measures, limit)
        # « Montants par entreprise »'s deltas, moved into its lines (under this lock: `money`).
        folded += money.fold(session, limit)
    return folded


def _fold(session, table, key_names, measure_names, limit: int) -> int:
    """One table's crowded buckets (up to `limit`) replaced by their sums: the rows read are the rows deleted."""
    keys = [table.c[name] for name in key_names]
    crowded = select(*keys).group_by(*keys).having(func.count() > 1).limit(limit)
    gone = session.execute(delete(table).where(tuple_(*keys).in_(crowded))
                           .returning(*keys, *(table.c[name] for name in measure_names))).all()
    width = len(key_names)
    sums: dict[tuple, list] = defaultdict(lambda: [0] * len(measure_names))
    for row in gone:
        total = sums[tuple(row[:width])]
        for index, value in enumerate(row[width:]):
            total[index] += rows.money(value)
    folded = [{**dict(zip(key_names, key)), **dict(zip(measure_names, total))}
              for key, total in sums.items() if any(total)]
    if folded:
        session.execute(insert(table), folded)
    return len(sums)
