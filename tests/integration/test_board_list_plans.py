"""The Tableau de bord's list filtered on a status reads its page on every sort (issue 20): an index of board_row
holds (structure, status, the sort's column, piece) for each sort `dashboard.page_read` walks under a status, in the
migrated database as in the model — the page is then `per_page + 1` entries of it from the cursor, where the former
read sifted the structure's rows along the sort and then sorted every row of the status (27–32 thousand rows read to
show 25 at a million pieces: bench/README.md, issue 20 session 14). Which rows the walk gives is
test_board_reading.test_every_read_of_the_list_gives_the_former_list_on_every_filter_and_sort's."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from chorus_chain.extensions import db
from chorus_chain.models.board import BoardRow
from chorus_chain.operations import dashboard
from chorus_chain.operations.board_reading import counts, lists


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
