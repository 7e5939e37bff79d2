"""The row count of every table, to prove that a refused request stored nothing (issue 13)."""
from __future__ import annotations

from contextlib import contextmanager
from functools import cache

from sqlalchemy import TextClause, event, text

from chorus_chain import access
from chorus_chain.extensions import db


@cache
def _counting() -> TextClause:
    """One SELECT of every table's name and row count, written once: the fuzz suites count after each of their
    thousand requests, and building (then keying for the cache) a UNION of sixty SQLAlchemy SELECTs each time cost
    more than running it (test_fuzz_inputs, profiled: 48 ms a count, a third of the test)."""
    return text(" UNION ALL ".join(f"SELECT '{table.name}' AS name, count(*) AS n FROM \"{table.name}\""
                                   for table in db.metadata.sorted_tables))


def row_counts(app) -> dict[str, int]:
    """{table: rows} over every table of the models, read across tenants (one query)."""
    with app.test_request_context(), access.system_access("tests: counting every table's rows"):
        return dict(db.session.execute(_counting()).all())


@contextmanager
def statements(app):
    """The SQL statements the engine runs inside the block, in order (a list filled as they run)."""
    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def record(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def changed(before: dict[str, int], after: dict[str, int]) -> dict[str, tuple[int, int]]:
    return {name: (before[name], after[name]) for name in before if before[name] != after[name]}


def table_checksums(app, ignore: dict[str, tuple[str, ...]] | None = None) -> dict[str, str]:
    """{table: digest of all its rows} over every table of the models, read across tenants (one query): unlike the
    counts, an UPDATE shows. `ignore` names columns left out of a table's digest (bookkeeping a request may write
    for the identity that makes it — say which and why at the call)."""
    ignore = ignore or {}
    parts = []
    for table in db.metadata.sorted_tables:
        dropped = ", ".join(f"'{column}'" for column in ignore.get(table.name, ()))
        row = f"(to_jsonb(t) - ARRAY[{dropped}]::text[])" if dropped else "to_jsonb(t)"
        parts.append(f"SELECT '{table.name}' AS name, (SELECT md5(coalesce(string_agg(md5({row}::text), '' "
                     f"ORDER BY md5({row}::text)), '')) FROM \"{table.name}\" AS t) AS digest")
    with app.test_request_context(), access.system_access("tests: a digest of every table's rows"):
        return dict(db.session.execute(text(" UNION ALL ".join(parts))).all())


def statements_of(app, client, url: str, headers=None) -> list[str]:
    """The SQL statements one GET of `url` runs (it must answer 200), the tenant's settings left out (one per
    transaction, DESIGN.md §3 rule 4): the query counters of the pages that must cost the same whatever the data."""
    with statements(app) as seen:
        response = client.get(url, headers=headers or {})
    assert response.status_code == 200, response.status_code
    return [statement for statement in seen if "set_config('chorus." not in statement]
