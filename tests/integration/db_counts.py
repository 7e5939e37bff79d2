"""The row count of every table, to prove that a refused request stored nothing (issue 13)."""
from __future__ import annotations

from sqlalchemy import func, select, union_all

from chorus_chain import access
from chorus_chain.extensions import db


def row_counts(app) -> dict[str, int]:
    """{table: rows} over every table of the models, read across tenants (one query)."""
    with app.test_request_context(), access.system_access("tests: counting every table's rows"):
        tables = db.metadata.sorted_tables
        query = union_all(*(select(func.count().label("n")).select_from(table) for table in tables))
        return dict(zip((t.name for t in tables), db.session.execute(query).scalars()))


def changed(before: dict[str, int], after: dict[str, int]) -> dict[str, tuple[int, int]]:
    return {name: (before[name], after[name]) for name in before if before[name] != after[name]}
