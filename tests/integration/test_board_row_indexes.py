"""board_row's indexes (issue 20, migration 0044): each is an entry every write of a board row pays for (a change of
status rewrites the piece's rows into all of them), so none is kept that another serves.

- The primary key holds the piece first: refresh() reads the rows of the pieces a transaction changed through it
  (no index of its own on the piece any more).
- The payment tracker's index is partial, on the emitter's own deposited rows: the tracker still reads its keys
  from it under the generic plan PostgreSQL keeps, and the rows it leaves out are the other viewers' — which
  `rows.board_select` never names « emitter »."""
from __future__ import annotations

import json
import re

import pytest
from psycopg import sql as pgsql
from sqlalchemy import event, select, text

from chorus_chain import access
from chorus_chain.extensions import db
from chorus_chain.models.board import BoardRow
from chorus_chain.models.base import utcnow
from chorus_chain.operations.board import maintain
from chorus_chain.operations.tracker import reading as tracker
from tests.integration import pieces_world as pw


@pytest.fixture
def w(app, db):
    return pw.world(app)


def _indexes_in_database() -> dict[str, tuple]:
    """board_row's indexes in the migrated database: name → (columns in order, unique, partial)."""
    rows = db.session.execute(text("""
        SELECT i.relname, x.indisunique, x.indpred IS NOT NULL, a.attname
        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
        JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, n) ON true
        JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
        WHERE t.relname = 'board_row' ORDER BY i.relname, k.n""")).all()
    found: dict[str, tuple] = {}
    for name, unique, partial, column in rows:
        columns, *_ = found.get(name, ((),))
        found[name] = ((*columns, column), unique, partial)
    return found


def _indexes_in_model() -> dict[str, tuple]:
    table = BoardRow.__table__
    # An expression's column: `text("sort_date DESC")` names it first.
    found = {index.name: (tuple(str(getattr(part, "name", part)).split()[0] for part in index.expressions),
                          bool(index.unique),
                          index.dialect_options["postgresql"]["where"] is not None) for index in table.indexes}
    found[table.primary_key.name] = (tuple(column.name for column in table.primary_key.columns), True, False)
    return found


def test_board_rows_indexes_are_the_models_and_none_leads_with_the_piece_but_the_key(app, db):
    """The migrated database holds the model's indexes, key included (Alembic's comparison sees neither a primary
    key's column order nor a partial index's predicate), and the piece leads only the primary key."""
    with app.app_context():
        in_database = _indexes_in_database()
    assert in_database == _indexes_in_model()
    assert in_database["pk_board_row"] == (("piece_id", "structure_id"), True, False)
    assert [name for name, (columns, *_) in in_database.items() if columns[0] == "piece_id"] == ["pk_board_row"]
    assert in_database["ix_board_row_emitted"][2], "the tracker's index holds the emitter's rows only"


def _scans(plan: dict, relation: str = "board_row") -> list[dict]:
    found = [plan] if plan.get("Relation Name") == relation else []
    for child in plan.get("Plans", ()):
        found += _scans(child, relation)
    return found


def test_refresh_reads_the_rows_of_its_pieces_through_the_primary_key(app, w):
    """The rows refresh() replaces (`old_row`: every structure's rows of the pieces) are a range of the primary key
    per piece, read by an index scan of it — not by a scan of a structure-first key filtered on the piece."""
    piece_id = pw.deposit(app, w, w.st1, "A10", "IX-1")
    seen = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        if "old_row" in statement:
            seen.append((statement, parameters))

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", keep)
        try:
            maintain.refresh([piece_id])
        finally:
            event.remove(db.engine, "before_cursor_execute", keep)
        statement, parameters = seen[-1]
        raw = db.session.connection().connection.dbapi_connection.cursor()
        try:
            for setting in ("enable_seqscan", "enable_bitmapscan"):
                raw.execute(f"SET LOCAL {setting} = off")
            raw.execute("EXPLAIN (FORMAT JSON) " + statement, parameters)
            plan = raw.fetchone()[0][0]["Plan"]
        finally:
            raw.close()
        db.session.rollback()
    # `old_row`'s scan: the one board_row scan on the array of pieces (the writes find their rows by the whole key).
    [old_rows] = [scan for scan in _scans(plan) if "ANY" in scan.get("Index Cond", "") + scan.get("Filter", "")]
    assert old_rows.get("Index Name") == "pk_board_row", old_rows
    assert "piece_id = ANY" in old_rows["Index Cond"], old_rows


def _as_prepared(statement: str, parameters: dict) -> tuple[str, list]:
    """SQLAlchemy's `%(name)s` placeholders as `$n` for PREPARE, and the values in that order."""
    names: list[str] = []

    def positional(match) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    return re.sub(r"%\((\w+)\)s", positional, statement), [parameters[name] for name in names]


def test_the_tracker_reads_its_keys_from_the_emitters_partial_index_under_a_generic_plan(app, w):
    """The tracker's keys are the emitter's own deposited rows: the partial index's entries, read backwards from
    the newest, under the generic plan PostgreSQL keeps for the statement (its predicate's constants written in
    the statement, not bound: a parameter could not prove it)."""
    for n in range(3):
        pw.deposit(app, w, w.st1, "A10", f"TR-{n}")
    seen = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        if "own_keys" in statement:
            seen.append((statement, parameters))

    with pw.acting(app, w.st1) as (_, structure):
        event.listen(db.engine, "before_cursor_execute", keep)
        try:
            shown = tracker.sent(structure.id, None, 25, utcnow().date())
        finally:
            event.remove(db.engine, "before_cursor_execute", keep)
        assert len(shown) == 3
        sql, values = _as_prepared(*seen[-1])
        raw = db.session.connection().connection.dbapi_connection.cursor()
        try:
            raw.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            raw.execute("SET LOCAL enable_seqscan = off")
            raw.execute("PREPARE tracker_sent AS " + sql)
            arguments = pgsql.SQL(", ").join(pgsql.Literal(value) for value in values).as_string(raw)
            raw.execute(f"EXPLAIN (FORMAT JSON) EXECUTE tracker_sent({arguments})")
            plan = raw.fetchone()[0][0]["Plan"]
            raw.execute("DEALLOCATE tracker_sent")
        finally:
            raw.close()
    keys = [scan for scan in _scans(plan) if scan.get("Alias") == "board_row"]
    assert [scan.get("Index Name") for scan in keys] == ["ix_board_row_emitted"], json.dumps(plan)[:4000]


def test_the_emitters_row_alone_is_named_emitter(app, w):
    """What the tracker's partial index relies on: of a piece's board rows, the emitter's — and no other — has the
    reason « emitter », whoever else sees the piece (the route, the contractors above, the holder)."""
    pw.deposit(app, w, w.st1, "A10", "EM-1")
    pw.deposit(app, w, w.st2, None, "EM-2")
    with app.app_context(), access.system_access("test: every structure's rows"):
        rows = db.session.execute(select(BoardRow.structure_id, BoardRow.emitter_structure_id,
                                         BoardRow.reason)).all()
    assert len({structure for structure, *_ in rows}) > 3
    assert {(structure == emitter, reason == "emitter") for structure, emitter, reason in rows} \
        == {(True, True), (False, False)}
