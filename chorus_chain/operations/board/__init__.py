"""The dashboards' read model (issue 20), written in the transaction of each change: `board_row` (a piece as each
structure that sees it reads it) and `board_count` (insert-only deltas of counts and sums per bucket).

- `refresh(piece_ids)`, `flush_pending()` and the session hook (`install`): maintain.py;
- `touch(piece_ids)`: pending.py (no dependency: the Core writers of the source tables call it);
- `compact()`: rollup.py (folds the deltas; the deadline clock runs it);
- `recompute(check=...)`: rebuild.py (`flask board recompute [--check]`);
- the one SELECT that builds the rows, and the rollup measures: rows.py.

The functions below import their module when called: `pieces_records` (which the rows' SELECT reads through
`pieces_queries`) calls `touch`, so this package's import must not pull the SELECT in.
"""
from __future__ import annotations

from collections.abc import Iterable

from chorus_chain.operations.board.pending import touch


def refresh(piece_ids: Iterable[int]) -> int:
    """Rebuild the board rows and rollup deltas of these pieces now, in this transaction (maintain.refresh)."""
    from chorus_chain.operations.board.maintain import refresh as refresh_now

    return refresh_now(piece_ids)


def flush_pending(session=None) -> int:
    """Refresh what this transaction made stale (maintain.flush_pending)."""
    from chorus_chain.operations.board.maintain import flush_pending as flush

    return flush(session)


def compact(limit: int | None = None) -> int:
    """Fold the rollup deltas (rollup.compact)."""
    from chorus_chain.operations.board.rollup import BATCH_BUCKETS, compact as fold

    return fold(limit or BATCH_BUCKETS)


def recompute(*, check: bool = False):
    """Compare the read model with the pieces and, unless `check`, correct it (rebuild.recompute)."""
    from chorus_chain.operations.board.rebuild import recompute as run

    return run(check=check)


def install() -> None:
    """Register the session hook (create_app)."""
    from chorus_chain.operations.board.maintain import install as register

    register()


__all__ = ["compact", "flush_pending", "install", "recompute", "refresh", "touch"]
