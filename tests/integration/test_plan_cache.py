"""The pages that let PostgreSQL keep generic plans (chorus_chain.plan_cache): the Synthèse's and the Tableau de bord's
statements run with `plan_cache_mode = auto`, set by the statement that reads the tenant (no statement of its own);
every other page's, and whatever runs before the tenant is known, with the connections' `force_custom_plan`. The
Tableau de bord's statements marked `plan_cache.custom_plan` (the Trésorerie's habits) run unprepared: PostgreSQL
plans them for their parameters every time."""
from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import event, text

from chorus_chain import plan_cache, read_requests
from chorus_chain.extensions import db
from tests.integration import pieces_world as pw

HX = {"HX-Request": "true"}


@pytest.fixture
def w(app, db):
    return pw.world(app)


@contextmanager
def plan_modes(app):
    """(statement, parameters, the plan_cache_mode it ran under) for each statement run inside the block, read on the same
    connection just before it (a cursor of its own, as bench/explain_dashboards does)."""
    with app.app_context():
        engine = db.engine
    seen: list[tuple[str, object, str]] = []

    def record(conn, cursor, statement, parameters, *args):
        raw = conn.connection.dbapi_connection.cursor()
        try:
            raw.execute("SELECT current_setting('plan_cache_mode')")
            seen.append((statement, parameters, raw.fetchone()[0]))
        finally:
            raw.close()

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _tenant(seen) -> int:
    """The index of the statement that read the membership and set the tenant."""
    return next(i for i, (statement, *_) in enumerate(seen) if "JOIN rattachement" in statement
                and "set_config(" in statement)


def _after_the_tenant(seen) -> list[tuple[str, str]]:
    return [(s, mode) for s, _, mode in seen[_tenant(seen) + 1:] if s.lstrip().upper().startswith("SELECT")
            and "set_config('chorus." not in s]  # not the tests' own savepoints and settings


@pytest.mark.postgres
def test_the_synthese_reads_with_generic_plans_allowed(app, w):
    client = pw.logged_in(app, w.mandataire)
    url = f"/s/{w.mandataire.siret}/synthese"
    with plan_modes(app) as first:
        assert client.get(url).status_code == 200
    # The session's statement runs before the tenant is known: custom plans (the tests' outer transaction keeps the
    # setting past the request, so only the first request shows it). The membership's statement sets the mode.
    assert [mode for s, _, mode in first if "FROM account JOIN login_session" in s] == ["force_custom_plan"]
    assert "plan_cache_mode" in first[_tenant(first)][1].values()
    for headers in ({}, HX):
        with plan_modes(app) as seen:
            page = client.get(url, headers=headers)
        assert page.status_code == 200 and 'data-testid="work-list"' in page.get_data(as_text=True)
        read = _after_the_tenant(seen)
        assert any("FROM board_row" in s for s, _ in read)  # the work list is among them
        assert {mode for _, mode in read} == {"auto"}, read


@pytest.mark.postgres
def test_the_tableau_de_bord_reads_with_generic_plans_allowed(app, w):
    """The page, filtered, and its HTMX list: every statement after the tenant's under `auto`."""
    pw.deposit(app, w, w.st1, "A10", "PLAN-1")  # the sous-traitant's tracker has a piece, the mandataire's money a line
    for who in (w.mandataire, w.st1):
        client = pw.logged_in(app, who)
        for path, headers in (("tableau-de-bord", {}), ("tableau-de-bord?status=A_VALIDER_1", {}),
                              ("tableau-de-bord?tri=-montant", HX)):
            with plan_modes(app) as seen:
                assert client.get(f"/s/{who.siret}/{path}", headers=headers).status_code == 200
            assert "plan_cache_mode" in seen[_tenant(seen)][1].values()
            read = _after_the_tenant(seen)
            assert any("FROM board_row" in s for s, _ in read)  # the list is among them
            assert {mode for _, mode in read} == {"auto"}, (who.key, path, read)


@contextmanager
def executions(app, starting=("SELECT",)):
    """(SQL as psycopg sends it, marked `plan_cache.custom_plan`?) of each SELECT (each statement beginning with one
    of `starting`) run inside the block."""
    with app.app_context():
        engine = db.engine
    seen: list[tuple[str, bool]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(starting) and "set_config(" not in statement:
            seen.append((_as_sent(statement), bool(context.execution_options.get(plan_cache.CUSTOM, False))))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _as_sent(statement: str) -> str:
    """SQLAlchemy's `%(name)s` placeholders as psycopg sends them to the server (`$1`, `$2`… in order of first use):
    the text PostgreSQL shows in `pg_prepared_statements`."""
    import re

    names: list[str] = []

    def positional(match) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    return re.sub(r"%\((\w+)\)s", positional, statement)


def _prepared(app) -> dict[str, tuple[int, int]]:
    """The statements prepared on the tests' connection (every request shares it): SQL → (generic plans, custom
    plans) PostgreSQL made for it."""
    with app.app_context():
        return {statement: (generic, custom) for statement, generic, custom in db.session.execute(
            read_requests.reads_only(text("SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements")))}


@pytest.mark.postgres
def test_the_marked_statements_are_never_prepared_and_the_others_are(app, w):
    """Opened a dozen times on one connection (page and HTMX list), the Tableau de bord's statements are prepared by
    psycopg (after five runs) and PostgreSQL keeps generic plans for them — except those marked `custom_plan`, which
    run unprepared (the unnamed statement, planned for its parameters every time): none of them is ever in
    pg_prepared_statements. Without the mark they would be (they run on every page). « Montants par entreprise » is
    not marked: its first lines are an index's first entries (`board_money_line`), its generic plan the custom one
    (`parties._money_lines_statement`), so it is prepared and keeps a generic plan. Nor the payment tracker's events:
    one array of pieces, each probing its events (`tracker.reading._events_statement`)."""
    pw.deposit(app, w, w.st1, "A10", "PLAN-1")
    runs = 14
    readers = [(w.st1, ("GROUP BY piece.id",)), (w.mandataire, ())]
    clients = [pw.logged_in(app, who) for who, _ in readers]
    # The set-up wrote in the tests' outer transaction, so every request would end with a ROLLBACK (TO SAVEPOINT),
    # which makes psycopg forget its prepared statements; in production each request's transaction begins with the
    # mark cleared (read_requests), as here.
    with app.app_context():
        db.session.connection().info[read_requests.WROTE] = False
    for client, (who, wanted) in zip(clients, readers):
        with executions(app) as seen:
            for k in range(runs):
                assert client.get(f"/s/{who.siret}/tableau-de-bord",
                                  headers=HX if k % 2 else {}).status_code == 200
        prepared = _prepared(app)
        mine = {statement for statement, custom in seen if custom}
        # The habits (the sous-traitant).
        assert all(any(fragment in statement for statement in mine) for fragment in wanted), (who.key, mine)
        assert not mine & prepared.keys(), (who.key, mine & prepared.keys())
        # Every other statement run at least six times was prepared: the list's, the counts', the panels'…
        often = {statement for statement, custom in seen if not custom
                 and sum(s == statement for s, _ in seen) > 5}
        assert often and often <= prepared.keys(), (who.key, often - prepared.keys())
        assert any("FROM board_row" in statement for statement in often)
        # And PostgreSQL kept generic plans for them once it had planned five for their parameters: the list's, the
        # counts by status' (the tests' small tables make them as cheap as the custom ones).
        generic = [statement for statement, (generic_plans, _) in prepared.items() if generic_plans]
        assert any("FROM board_row" in s for s in generic) and any("board_status_count" in s for s in generic)
    # « Montants par entreprise » (the mandataire's, on each whole page: seven runs here): prepared, so that
    # PostgreSQL may keep its generic plan once it has planned five for the structure.
    assert [statement for statement in prepared if "FROM board_money_line" in statement
            and "board_money_total" in statement]


@pytest.mark.postgres
def test_the_tableau_de_bords_statements_keep_their_generic_plans(app, w):
    """Opened a dozen times on one connection, every statement the whole page runs after the tenant's — but the
    marked ones — gets generic plans once PostgreSQL has planned five for its parameters: the generic plan is
    kept, not merely allowed. A statement whose custom plan always looks cheaper than its generic one is planned
    again on every page although it is prepared: the tracker's events read through a page-sized array (its custom
    plan counted the pieces, its generic plan ten) were, until the array was read through an InitPlan, which both
    plans estimate alike (`tracker.reading._events_statement`). The overdue private invoices compared with the day
    itself were too on the benchmark's databases (the custom plan saw from the histogram how few rows were due:
    `private_invoices.overdue._overdue`), which this world's few rows do not reproduce: here it only has to stay
    kept."""
    pw.deposit(app, w, w.st1, "A10", "PLAN-1")  # the sous-traitant's tracker has a piece
    runs = 12  # psycopg prepares a statement at its sixth run; PostgreSQL then plans five times before comparing
    readers = [(who, pw.logged_in(app, who)) for who in (w.st1, w.mandataire)]
    with app.app_context():
        db.session.connection().info[read_requests.WROTE] = False  # as in the test above, once logged in
    for who, client in readers:
        with executions(app) as seen:
            for _ in range(runs):
                assert client.get(f"/s/{who.siret}/tableau-de-bord").status_code == 200
        with plan_modes(app) as modes:
            assert client.get(f"/s/{who.siret}/tableau-de-bord").status_code == 200
        after_tenant = {_as_sent(statement) for statement, _ in _after_the_tenant(modes)}
        prepared = _prepared(app)
        kept = {statement for statement, custom in seen if not custom and statement in after_tenant
                and sum(s == statement for s, _ in seen) == runs}
        assert any("piece_event.actor_step" in s for s in kept) == (who is w.st1)
        assert any("private_due" in s for s in kept)
        assert kept <= prepared.keys(), (who.key, kept - prepared.keys())
        replanned = {s[:120]: prepared[s] for s in kept if not prepared[s][0]}
        assert not replanned, (who.key, replanned)


@pytest.mark.postgres
def test_a_number_search_and_a_period_are_planned_for_their_values(app, w):
    """Their conditions are built per request (`dashboard.scope`): the count's and the list's statements run
    unprepared, whereas the bare list's statement, kept with bound parameters, may keep its generic plan."""
    pw.deposit(app, w, w.st1, "A10", "PLAN-1")
    client = pw.logged_in(app, w.st1)
    for query, column in (("number=PLAN", "number_key"), ("du=2026-01-01", "sort_date")):
        for headers in ({}, HX):
            # (A period's count begins with its floor's CTEs: `counts.deposited_floor`.)
            with executions(app, starting=("SELECT", "WITH")) as seen:
                assert client.get(f"/s/{w.st1.siret}/tableau-de-bord?{query}", headers=headers).status_code == 200
            searched = [custom for statement, custom in seen if f"board_row.{column} >= " in statement]
            assert len(searched) == 2 and all(searched), (query, seen)  # the count and the page
    with executions(app) as seen:  # the bare list (HTMX: no panel), its count from the rollups
        assert client.get(f"/s/{w.st1.siret}/tableau-de-bord?tri=-montant", headers=HX).status_code == 200
    assert any("FROM board_row" in statement for statement, _ in seen)
    assert not any(custom for statement, custom in seen if "board_row" in statement), seen
    # None is marked. Nor, on the whole page, the companies offered with the own parties (`parties.offer_and_own`):
    # its generic plan reads no more than its custom plan (since session 14).
    assert not any(custom for _, custom in seen), seen
    with executions(app, starting=("SELECT", "WITH")) as seen:  # the companies' statement begins with its CTEs
        assert client.get(f"/s/{w.st1.siret}/tableau-de-bord?tri=-montant").status_code == 200
    offered = [custom for statement, custom in seen if "board_party_count" in statement and "UNION ALL" in statement]
    assert offered == [False], seen


@pytest.mark.postgres
def test_the_other_pages_keep_custom_plans(app, w):
    client = pw.logged_in(app, w.mandataire)
    for path in ("tableau-de-bord/entreprises", "aide/", "pieces/"):
        with plan_modes(app) as seen:
            assert client.get(f"/s/{w.mandataire.siret}/{path}").status_code == 200
        assert "plan_cache_mode" not in seen[_tenant(seen)][1].values()
        read = _after_the_tenant(seen)
        assert read and {mode for _, mode in read} == {"force_custom_plan"}, (path, read)


def test_the_mark_survives_the_route_and_rights_decorators(app):
    marked = {endpoint for endpoint, view in app.view_functions.items() if getattr(view, plan_cache.MARK, False)}
    assert marked == {"dashboard.synthese", "dashboard.tableau_de_bord"}
    with app.test_request_context("/s/12345678901234/synthese"):
        assert plan_cache.wanted()
    with app.test_request_context("/s/12345678901234/tableau-de-bord"):
        assert plan_cache.wanted()
    with app.test_request_context("/s/12345678901234/tableau-de-bord/entreprises"):
        assert not plan_cache.wanted()
    with app.test_request_context("/healthz"):
        assert not plan_cache.wanted()
