"""The read model's write as PostgreSQL runs it (issue 20; `board.refresh` → `maintain._in_place`, the statement of
every writer: a user's action, the sweep's batches): a piece's own values (its clocks, its tacit validation, …) are
computed once per piece, not once per structure that sees it (`rows._piece_values`), and the statement runs under
a generic plan, kept once prepared, the transaction's `plan_cache_mode` set back after it (`maintain._generic_plans`).
The exactness of what it writes is test_board.py's."""
from __future__ import annotations

import pytest
from sqlalchemy import event

from chorus_chain import access
from chorus_chain.extensions import db
from chorus_chain.operations import board
from tests.integration.pieces_world import deposit, world

pytestmark = pytest.mark.postgres


def _setting(conn) -> str:
    raw = conn.connection.dbapi_connection.cursor()
    try:
        raw.execute("SELECT current_setting('plan_cache_mode')")
        return raw.fetchone()[0]
    finally:
        raw.close()


def _refreshed(app, who, piece_ids, *, explain=False) -> dict:
    """Refresh these pieces as a user's transaction does; what the board rows' statement ran under: the
    plan_cache_mode (`mode`), with `explain` its plan (EXPLAIN ANALYZE, as JSON: run again, on the same connection,
    in its system access), and the mode before and after the refresh."""
    seen: dict = {}

    def before(conn, cursor, statement, parameters, context, executemany):
        if "new_row" in statement:
            seen["mode"] = _setting(conn)

    def after(conn, cursor, statement, parameters, context, executemany):
        if "new_row" in statement and explain:
            raw = conn.connection.dbapi_connection.cursor()
            try:
                raw.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters)
                seen["plan"] = raw.fetchone()[0][0]["Plan"]
            finally:
                raw.close()

    with app.test_request_context(), access.tenant(who.structure_id):
        engine = db.session.get_bind()
        connection = db.session.connection()
        connection.exec_driver_sql("SET LOCAL plan_cache_mode = auto")  # as a page marked `generic_plans` sets it
        seen["mode_before"] = _setting(connection)
        event.listen(engine, "before_cursor_execute", before)
        event.listen(engine, "after_cursor_execute", after)
        try:
            board.refresh(piece_ids)
        finally:
            event.remove(engine, "before_cursor_execute", before)
            event.remove(engine, "after_cursor_execute", after)
        seen["mode_after"] = _setting(db.session.connection())
        db.session.rollback()
    return seen


def _subplans(plan: dict, found=None) -> list[dict]:
    found = [] if found is None else found
    if (plan.get("Subplan Name") or "").startswith("SubPlan"):
        found.append(plan)
    for child in plan.get("Plans", ()):
        _subplans(child, found)
    return found


def _relations(plan: dict) -> set[str]:
    names = {plan["Relation Name"]} if "Relation Name" in plan else set()
    for child in plan.get("Plans", ()):
        names |= _relations(child)
    return names


def test_a_pieces_own_values_are_computed_once_whatever_the_structures_that_see_it(app, db):
    """A deposited piece is seen by four structures (its emitter, the MOE, the MOA, the mandataire): its next clock,
    its panels' clocks and its tacit validation are read once — each sub-plan reading its clocks or its events runs
    once, not once per board row (the rows' SELECT evaluated them per row: four times)."""
    w = world(app)
    piece_id = deposit(app, w, w.st1, "A10", "PLAN-1")
    plan = _refreshed(app, w.st1, [piece_id], explain=True)["plan"]
    own = [node for node in _subplans(plan) if _relations(node) & {"deadline", "piece_event"}]
    assert own, plan
    loops = sorted({node.get("Actual Loops", 0) for node in own})
    assert loops[-1] == 1, loops


def test_the_statement_runs_under_a_generic_plan_and_leaves_the_transactions_mode_as_it_was(app, db):
    """The board rows' statement runs under `force_generic_plan` (planning it was most of a one-piece refresh's cost:
    bench/explain_refresh.py), and the transaction's next statements under the mode it had before (`auto` here, as a
    page marked `generic_plans` sets it; the connections' own is `force_custom_plan`)."""
    w = world(app)
    piece_id = deposit(app, w, w.st1, "A10", "PLAN-2")
    seen = _refreshed(app, w.st1, [piece_id])
    assert seen["mode_before"] == "auto"
    assert seen["mode"] == "force_generic_plan"
    assert seen["mode_after"] == "auto"
