"""Two ways of writing a read so that PostgreSQL's planner takes the bounded path.

`opaque_limit`: a LIMIT the planner cannot read, for the reads of `board_row` that must walk an index in its order.
Row-level security adds its policy's condition (the structure's equality against the transaction's setting) to every
read of the read model, and PostgreSQL estimates the rows of a structure times that condition's guessed selectivity:
a structure with 3 000 rows is estimated at about 140. When the LIMIT is larger than that estimate (the Trésorerie's
sample of 1 000 pieces), the planner believes it reads every row anyway and prefers reading all of the structure's
rows through any index, then sorting them — which at a million pieces is the structure's whole history. A LIMIT it
cannot evaluate when planning (`LIMIT (SELECT n)`) is planned as a small fraction of the rows: the ordered index
read, which stops after n entries, is then the cheapest plan. The rows returned are the same.

`any_of`: « this column is one of the ids a subquery gives » as one array, computed once (an InitPlan) and probed in
the column's index — `= ANY (ARRAY (SELECT …))` — rather than `IN (SELECT …)`, which PostgreSQL may plan as a join
over the whole index (as a semi-join, « Montants par entreprise » hashed every parent of the platform's sous-traitants
to keep those of one structure's parties), and rather than an expanding `IN (:id_1, :id_2, …)` of ids read by an
earlier statement, whose text grows with the structure's history (hundreds of parameters at a million pieces: past
psycopg's cache of converted queries, each request paid its conversion again). On SQLite (`make run`), `IN (SELECT
…)`: it has no arrays, and probes the index for each id of the subquery.
"""
from __future__ import annotations

from sqlalchemy import literal, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.sqltypes import NullType


def opaque_limit(count):
    """`(SELECT count)`, for `.limit()`: the same limit, hidden from the planner's estimate. `count`: a number, or a
    bound parameter for a statement built once (`lists`' SIFTED read)."""
    return select(literal(int(count)) if isinstance(count, int) else count).scalar_subquery()


class any_of(FunctionElement):
    """any_of(column, ids) → whether `column` is one of the ids the one-column select `ids` returns (`ids`: a
    `Select`, taken as a scalar subquery; it must name its own tables — an alias when the outer query reads the same
    table —, nothing of the outer query)."""

    type = NullType()  # not Boolean: on SQLite, without a boolean type, a Boolean condition is written « … = 1 »
    name = "any_of"
    inherit_cache = True

    def __init__(self, column, ids):
        super().__init__(column, ids.scalar_subquery())


@compiles(any_of, "postgresql")
def _any_of_postgresql(element, compiler, **kw):
    column, ids = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"{column} = ANY (ARRAY {ids})"  # `ids` is written in its parentheses: ARRAY (SELECT …)


@compiles(any_of)
def _any_of_default(element, compiler, **kw):
    column, ids = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"{column} IN {ids}"


class none_of(any_of):
    """none_of(column, ids) → whether `column` is none of the ids (not NULL) the one-column select `ids` returns: on
    PostgreSQL a filter of the scan that reads `column` (the array read once), where NOT EXISTS or NOT IN may become
    an anti-join — which took the « Montants par entreprise » index's order away (`parties.money_lines`)."""

    name = "none_of"
    inherit_cache = True


@compiles(none_of, "postgresql")
def _none_of_postgresql(element, compiler, **kw):
    column, ids = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"{column} <> ALL (ARRAY {ids})"


@compiles(none_of)
def _none_of_default(element, compiler, **kw):
    column, ids = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"{column} NOT IN {ids}"
