"""A LIMIT PostgreSQL's planner cannot read, for the reads of `board_row` that must walk an index in its order.

Row-level security adds its policy's condition (the structure's equality against the transaction's setting) to every
read of the read model, and PostgreSQL estimates the rows of a structure times that condition's guessed selectivity:
a structure with 3 000 rows is estimated at about 140. When the LIMIT is larger than that estimate (the Trésorerie's
sample of 1 000 pieces), the planner believes it reads every row anyway and prefers reading all of the structure's
rows through any index, then sorting them — which at a million pieces is the structure's whole history. A LIMIT it
cannot evaluate when planning (`LIMIT (SELECT n)`) is planned as a small fraction of the rows: the ordered index
read, which stops after n entries, is then the cheapest plan. The rows returned are the same.
"""
from __future__ import annotations

from sqlalchemy import literal, select


def opaque_limit(count):
    """`(SELECT count)`, for `.limit()`: the same limit, hidden from the planner's estimate. `count`: a number, or a
    bound parameter for a statement built once (`lists`' SIFTED read)."""
    return select(literal(int(count)) if isinstance(count, int) else count).scalar_subquery()
