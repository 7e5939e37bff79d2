"""The pages that let PostgreSQL keep generic plans (chorus_chain.plan_cache): the Synthèse's statements run with
`plan_cache_mode = auto`, set by the statement that reads the tenant (no statement of its own); every other page's,
and whatever runs before the tenant is known, with the connections' `force_custom_plan`."""
from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import event

from chorus_chain import plan_cache
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
def test_the_other_pages_keep_custom_plans(app, w):
    client = pw.logged_in(app, w.mandataire)
    for path in ("tableau-de-bord", "tableau-de-bord?status=A_VALIDER_1", "aide/", "pieces/"):
        with plan_modes(app) as seen:
            assert client.get(f"/s/{w.mandataire.siret}/{path}").status_code == 200
        assert "plan_cache_mode" not in seen[_tenant(seen)][1].values()
        read = _after_the_tenant(seen)
        assert read and {mode for _, mode in read} == {"force_custom_plan"}, (path, read)


def test_the_mark_survives_the_route_and_rights_decorators(app):
    marked = {endpoint for endpoint, view in app.view_functions.items() if getattr(view, plan_cache.MARK, False)}
    assert marked == {"dashboard.synthese"}
    with app.test_request_context("/s/12345678901234/synthese"):
        assert plan_cache.wanted()
    with app.test_request_context("/s/12345678901234/tableau-de-bord"):
        assert not plan_cache.wanted()
    with app.test_request_context("/healthz"):
        assert not plan_cache.wanted()
