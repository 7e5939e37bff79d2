"""The Tableau de bord's list filtered on a status reads its page on every sort (issue 20): an index of board_row
holds (structure, status, the sort's column, piece) for each sort `dashboard.page_read` walks under a status, in the
migrated database as in the model — the page is then `per_page + 1` entries of it from the cursor, where the former
read sifted the structure's rows along the sort and then sorted every row of the status (27–32 thousand rows read to
show 25 at a million pieces: bench/README.md, issue 20 session 14). Which rows the walk gives is
test_board_reading.test_every_read_of_the_list_gives_the_former_list_on_every_filter_and_sort's."""
from __future__ import annotations

import pytest
from sqlalchemy import event, select, text

from chorus_chain.extensions import db
from chorus_chain.models.board import BoardRow
from chorus_chain.operations import dashboard
from chorus_chain.operations.board_reading import counts, lists
from tests.integration import pieces_world as pw


def _database_indexes() -> dict[str, list[str]]:
    """board_row's plain indexes in the migrated database: name → its columns, in order (partial ones aside)."""
    rows = db.session.execute(text("""
        SELECT i.relname, a.attname
        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
        JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, n) ON true
        JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
        WHERE t.relname = 'board_row' AND x.indpred IS NULL ORDER BY i.relname, k.n""")).all()
    found: dict[str, list[str]] = {}
    for name, column in rows:
        found.setdefault(name, []).append(column)
    return found


def _model_indexes() -> dict[str, list[str]]:
    return {index.name: [column.name for column in index.columns] for index in BoardRow.__table__.indexes
            if index.dialect_options["postgresql"]["where"] is None}


@pytest.mark.parametrize("sort_key", [key.lstrip("-") for key in dashboard.SORTS])
def test_every_sort_under_a_status_has_its_index_and_walks_it(app, db, sort_key):
    filters = dashboard.Filters(status="A_VALIDER_1")
    # However many rows the status holds: the page's entries, not a sift nor a sort of the status's rows.
    assert dashboard.page_read(filters, None, sort_key, counts.CAP + 1) == lists.WALK
    column = lists.SORT_COLUMNS[sort_key].name
    # The status's own order is the piece's within it: (structure, status, piece).
    wanted = ["structure_id", "status", "piece_id"] if column == "status" else [
        "structure_id", "status", column, "piece_id"]
    with app.app_context():
        in_database = _database_indexes()
    assert wanted in in_database.values(), in_database
    assert wanted in _model_indexes().values()


@pytest.fixture
def w(app, db):
    return pw.world(app)


def _page_plan(structure, filters, descending: bool, depth: int, per_page: int) -> dict:
    """The plan (EXPLAIN ANALYZE, as JSON) of the list's page `depth` on the amount sort, reached by its « apres »
    cursors, run as the application runs it: the application's role, the tenant set (row-level security). The
    planner is left only the ordered read of an index (no sequential scan, bitmap or sort: a few rows would make any
    plan cheap), so that what is measured is what that read can do with the cursor."""
    conditions, params = dashboard.bound_scope(structure, filters, None)
    after = None
    for _ in range(depth - 1):
        after = lists.board_page(structure.id, conditions, "montant", descending, after=after, per_page=per_page,
                                 params=params).after
        assert after is not None
    return _explained_page(lambda: lists.board_page(structure.id, conditions, "montant", descending, after=after,
                                                    per_page=per_page, params=params),
                           off=("enable_seqscan", "enable_bitmapscan", "enable_sort"))


def _explained_page(read_page, off: tuple[str, ...] = ()) -> dict:
    """The plan (EXPLAIN ANALYZE, as JSON) of the page's keys statement (`page_keys`) that `read_page()` runs, run
    again on the same connection (same role, same tenant), with the planner settings `off` turned off."""
    return _explained_where(read_page, lambda statement, parameters: "page_keys" in statement, off)


def _explained_where(read, chosen, off: tuple[str, ...] = ()) -> dict:
    """The plan (EXPLAIN ANALYZE, as JSON) of the last statement `read()` runs that `chosen(statement, parameters)`
    picks, run again on the same connection (same role, same tenant), with the planner settings `off` turned off."""
    seen = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        if chosen(statement, parameters):
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", keep)
    try:
        read()
    finally:
        event.remove(db.engine, "before_cursor_execute", keep)
    statement, parameters = seen[-1]
    raw = db.session.connection().connection.dbapi_connection.cursor()
    try:
        for setting in off:
            raw.execute(f"SET LOCAL {setting} = off")
        raw.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters)
        return raw.fetchone()[0][0]["Plan"]
    finally:
        raw.close()


def _scans(plan: dict) -> list[dict]:
    """The scans reading the page's keys (`board_row`; the rows shown are read back as `shown`)."""
    found = [plan] if plan.get("Alias") == "board_row" else []
    for child in plan.get("Plans", ()):
        found += _scans(child)
    return found


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("by_status", [False, True])
def test_a_later_page_of_the_amount_sort_reads_its_entries_from_the_cursor(app, w, by_status, descending):
    """Under row-level security PostgreSQL runs inside an index scan only leakproof comparisons: the cursor on the
    numeric amount was a filter after the structure's entries before it, read again on every later page (page n:
    about n pages of entries). On the amount in cents (a bigint, migration 0043) it is the index's condition: page
    n reads `per_page + 1` entries of the amount's index (alone, or under a status), whatever n."""
    per_page, depth = 2, 5
    for n in range(per_page * depth + 2):
        pw.deposit(app, w, w.st1, "A10", f"CT-{n}", ht=f"{100 + 13 * n}.{n:02d}")
    with pw.acting(app, w.mandataire) as (_, structure):
        status = db.session.scalar(select(BoardRow.status).where(BoardRow.structure_id == structure.id))
        filters = dashboard.Filters(status=status) if by_status else dashboard.Filters()
        plan = _page_plan(structure, filters, descending, depth, per_page)
    # Under a status, either amount index walks the page in order here (every row of this world has that status).
    [scan] = _scans(plan)
    assert scan.get("Index Name") in ({"ix_board_row_amount", "ix_board_row_status_amount"} if by_status
                                      else {"ix_board_row_amount"}), scan
    read = (scan["Actual Rows"] + scan.get("Rows Removed by Filter", 0)) * scan.get("Actual Loops", 1)
    assert read <= per_page + 1, scan
    assert "montant_cents" in scan["Index Cond"] and "montant" not in scan.get("Filter", ""), scan


def _rows_read(plan: dict, relation: str = "board_row", alias: str = "board_row") -> int:
    """The rows the plan's scans of `relation` (as `alias`) read: returned × loops, plus those their filters
    removed."""
    total = 0
    if plan.get("Relation Name") == relation and plan.get("Alias") == alias:
        total += (plan.get("Actual Rows", 0) + plan.get("Rows Removed by Filter", 0)
                  + plan.get("Rows Removed by Index Recheck", 0)) * plan.get("Actual Loops", 1)
    return total + sum(_rows_read(child, relation, alias) for child in plan.get("Plans", ()))


def test_a_period_reads_the_newest_entries_of_its_range_not_the_whole_range(app, w):
    """A deposit period is a range of the sort date among the deposited pieces (the date index's order). Written as
    that range and the same range on `deposited_at`, PostgreSQL multiplied the two selectivities as if independent,
    estimated the range at about one row and read it whole by a bitmap, then sorted it (824 rows for the MOA's month
    at 100 000 pieces, to show 25). The page now reads its entries of the date index, newest first, and stops."""
    from chorus_chain.models.base import utcnow
    from datetime import timedelta

    from chorus_chain import access

    per_page, days, shown_days = 2, 400, 20
    piece_id = pw.deposit(app, w, w.st1, "A10", "PE-1")
    with pw.acting(app, w.mandataire) as (_, structure):
        # A history of a deposit a day (copies of the piece's row, under other piece ids): the period's 20 days are
        # 5 % of it, as a month is of the busiest structures' years. Only the page's keys are read from them.
        copied = [c.name for c in BoardRow.__table__.columns if c.name not in ("piece_id", "sort_date", "deposited_at")]
        with access.system_access("test: a history of board rows"):
            db.session.execute(text(
                f"INSERT INTO board_row (piece_id, sort_date, deposited_at, {', '.join(copied)}) "
                f"SELECT piece_id + 1000000 * g, now() - g * interval '1 day', now() - g * interval '1 day', "
                f"{', '.join(copied)} FROM board_row CROSS JOIN generate_series(1, {days}) AS g "
                "WHERE piece_id = :id AND structure_id = :structure"), {"id": piece_id, "structure": structure.id})
            db.session.execute(text("ANALYZE board_row"))
        filters = dashboard.Filters(deposited_from=(utcnow() - timedelta(days=shown_days)).date())
        conditions, params = dashboard.bound_scope(structure, filters, None)
        plan = _explained_page(lambda: lists.board_page(structure.id, conditions, "date", True, per_page=per_page,
                                                        params=params))
    assert _rows_read(plan) <= per_page + 1, plan


def _explained(read, wanted: str, off: tuple[str, ...] = ()) -> dict:
    """The plan of the last statement `read()` runs with a parameter named `wanted` (`_explained_where`)."""
    return _explained_where(read, lambda statement, parameters: isinstance(parameters, dict) and wanted in parameters,
                            off)


def _table_rows_read(plan: dict) -> int:
    """The rows of board_row's table the plan's scans read (all but index-only scans: returned × loops, plus those
    their filters removed); a scan never executed reads none."""
    total = 0
    if plan.get("Relation Name") == "board_row" and plan.get("Node Type") != "Index Only Scan":
        total += (plan.get("Actual Rows", 0) + plan.get("Rows Removed by Filter", 0)
                  + plan.get("Rows Removed by Index Recheck", 0)) * plan.get("Actual Loops", 1)
    return total + sum(_table_rows_read(child) for child in plan.get("Plans", ()))


def test_a_period_or_a_number_search_past_the_cap_is_counted_from_index_entries_not_rows(app, w):
    """A period's count says « plus de 1 000 » past `counts.CAP`: it read the CAP + 1 newest rows of the range to
    say so (935 pages of the table for the titulaire's month at 100 000 pieces, one a row). A period alone now
    bounds its deposited rows from below by index entries — the range's entries of the date index less its drafts
    (`counts.entries_floor`) — and reads no row when that bound is past the cap; within it, the count is exact,
    drafts left out. A number search alone alike, from the entries of its range of the number's index. The planner is left only index reads (no sequential scan, bitmap): with them, reading the rows
    through the date index is what the former count did."""
    from datetime import timedelta

    from chorus_chain import access
    from chorus_chain.models.base import utcnow

    per_day, days, drafts = 12, 100, 7
    piece_id = pw.deposit(app, w, w.st1, "A10", "PE-1")
    with pw.acting(app, w.mandataire) as (_, structure):
        # A deposit every two hours for 100 days (copies of the piece's row under other piece ids), and drafts
        # among them (no deposit): the last 90 days hold 1 080 deposited rows, past the cap.
        copied = [c.name for c in BoardRow.__table__.columns
                  if c.name not in ("piece_id", "sort_date", "deposited_at", "status")]
        with access.system_access("test: a history of board rows"):
            db.session.execute(text(
                f"INSERT INTO board_row (piece_id, sort_date, deposited_at, status, {', '.join(copied)}) "
                f"SELECT piece_id + 1000000 * g, now() - g * interval '2 hours', "
                f"CASE WHEN g <= {drafts} THEN NULL ELSE now() - g * interval '2 hours' END, "
                f"CASE WHEN g <= {drafts} THEN 'BROUILLON' ELSE status END, {', '.join(copied)} "
                f"FROM board_row CROSS JOIN generate_series(1, {per_day * days}) AS g "
                "WHERE piece_id = :id AND structure_id = :structure"), {"id": piece_id, "structure": structure.id})
            db.session.execute(text("ANALYZE board_row"))
        past = dashboard.Filters(deposited_from=(utcnow() - timedelta(days=90)).date())
        counted = dashboard.overview(structure, past, None)
        assert counted.more_than == counts.CAP and counted.total is None
        plan = _explained(lambda: dashboard.overview(structure, past, None), "capped_rows",
                          off=("enable_seqscan", "enable_bitmapscan"))
        assert _table_rows_read(plan) == 0, plan
        # Within the cap: exact, the drafts of the range left out (the piece itself, deposited today, counted).
        within = dashboard.Filters(deposited_from=(utcnow() - timedelta(days=5)).date())
        exact = db.session.scalar(text(
            "SELECT count(*) FROM board_row WHERE structure_id = :structure AND deposited_at IS NOT NULL "
            "AND sort_date >= :since"), {"structure": structure.id,
                                         "since": dashboard.bound_scope(structure, within, None)[1]["deposited_from"]})
        assert 0 < exact <= counts.CAP
        assert dashboard.overview(structure, within, None).total == exact
        # The numbers starting with « PE » (every copy's): past the cap, from the number index's entries.
        numbers = dashboard.Filters(number="pe")
        assert dashboard.overview(structure, numbers, None).more_than == counts.CAP
        plan = _explained(lambda: dashboard.overview(structure, numbers, None), "capped_rows",
                          off=("enable_seqscan", "enable_bitmapscan"))
        assert _table_rows_read(plan) == 0, plan
