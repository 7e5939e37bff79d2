"""The Tableau de bord's list reads its rows from the read model alone, and a piece only for the why of an accepted
amount that differs from the amount requested (`board_reading.lists._accepted_why`): the only rows whose why the page
shows (`domain.amount_why.explain`). Joined to `piece` for that column, the list probed the piece (and its tenant's
criteria) for every row of the page. Which rows and whys it gives is test_board_reading's
(`test_every_read_of_the_list_gives_the_former_list_on_every_filter_and_sort`); what the page says,
test_amount_why_pages'."""
from __future__ import annotations

import json
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from chorus_chain.extensions import db
from tests.integration import pieces_world as pw


@contextmanager
def list_plans(app):
    """The plans (EXPLAIN ANALYZE, as JSON) of the list's statements run inside the block (those reading the page's
    keys, `page_keys`), each run again on the same connection with the same parameters. Sequential scans, hash and
    merge joins are off for them: the tests' few rows make reading a whole table the cheaper plan, and what is
    asked here is which rows the statement must look up, not the planner's choice at this size."""
    with app.app_context():
        engine = db.engine
    plans: list[dict] = []

    def explain(conn, cursor, statement, parameters, *args):
        if "page_keys" not in statement or not statement.lstrip().upper().startswith("SELECT"):
            return
        raw = conn.connection.dbapi_connection.cursor()
        try:
            for setting in ("enable_seqscan", "enable_hashjoin", "enable_mergejoin"):
                raw.execute(f"SET LOCAL {setting} = off")
            raw.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters)
            found = raw.fetchone()[0]
            plans.append((json.loads(found) if isinstance(found, str) else found)[0]["Plan"])
            for setting in ("enable_seqscan", "enable_hashjoin", "enable_mergejoin"):
                raw.execute(f"RESET {setting}")
        finally:
            raw.close()

    event.listen(engine, "before_cursor_execute", explain)
    try:
        yield plans
    finally:
        event.remove(engine, "before_cursor_execute", explain)


def _rows_read(node: dict, relation: str) -> int:
    """The rows the plan's scans of `relation` returned or filtered out, every loop counted."""
    read = 0
    if node.get("Relation Name") == relation:
        loops = node.get("Actual Loops", 0)
        read += (node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)
                 + node.get("Rows Removed by Index Recheck", 0)) * loops
    return read + sum(_rows_read(child, relation) for child in node.get("Plans", ()))


@pytest.mark.postgres
def test_the_list_reads_a_piece_only_for_the_why_of_an_amount_that_differs(app, db):
    w = pw.world(app)
    partial = pw.deposit(app, w, w.st1, "A10", "WHY-1", ht="2000.00")
    pw.act(app, w.mandataire, partial, "validate_partially", now=pw.later(1), amount="1 500,00",
           reason="Métré contradictoire")
    for n in range(2, 5):
        pw.deposit(app, w, w.st1, "A10", f"WHY-{n}")
    client = pw.logged_in(app, w.mandataire)
    with list_plans(app) as plans:
        page = client.get(f"/s/{w.mandataire.siret}/tableau-de-bord?tri=numero").get_data(as_text=True)
    listed = page.split('data-testid="board-list"', 1)[1].split("</table>", 1)[0]
    assert listed.count('data-testid="board-row"') == 4
    assert listed.count('data-testid="amount-why"') == 1 and "Métré contradictoire" in listed
    assert len(plans) == 1
    # The one piece whose amounts differ, read once for its why; the three others not at all.
    assert _rows_read(plans[0], "piece") == 1, json.dumps(plans[0], indent=1)[:4000]
    assert _rows_read(plans[0], "board_row") >= 4
