"""The dashboards on SQLite, as `make run` serves them (issue 20): the suite runs the dashboards on PostgreSQL, and
session 9 shipped a Tableau de bord that answered « Service momentanément indisponible » on SQLite (a UNION ALL of
limited SELECTs, `least()`), found by hand. Here the demo is migrated and seeded on a SQLite file as `make run` does
(`flask db upgrade`, `flask demo seed`: `conftest.seed_demo`), whatever database the rest of the suite has, and each
demo account asks for every page of the dashboards: the Synthèse, the Tableau de bord with each filter, each sort, a
next page and the number search, its HTMX fragment, the whole « Par marché » and « Montants par entreprise » lists,
the notifications panel. Each must answer 200 with the markers of the real page, not the error page."""
from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from chorus_chain import demo
from chorus_chain.blueprints.dashboard import views as dashboard_views
from chorus_chain.degraded import UNAVAILABLE_TITLE
from chorus_chain.extensions import db
from chorus_chain.models import Account
from chorus_chain.operations import dashboard
from tests import factories
from tests.conftest import DEMO_SEED_SETTINGS, TEST_SETTINGS, seed_demo

# Every demo account (README « Comptes de démonstration »), with the SIRET of the structure it works for.
SIRETS = {company.email: company.siret for company in demo.COMPANIES}
SIRETS.update({email: next(c.siret for c in demo.COMPANIES if c.key == key) for key, email, *_ in demo.EXTRA_MEMBERS})


@pytest.fixture(scope="module")
def sqlite_app(tmp_path_factory):
    from chorus_chain import create_app

    url = f"sqlite:///{tmp_path_factory.mktemp('sqlite_demo') / 'chorus.db'}"
    seeder = create_app({**DEMO_SEED_SETTINGS, "SQLALCHEMY_DATABASE_URI": url})
    seed_demo(seeder)
    with seeder.app_context():
        db.engine.dispose()
    app = create_app({**TEST_SETTINGS, "SQLALCHEMY_DATABASE_URI": url})
    # As `make run`: an unexpected error answers the error page (the test reads it) instead of reaching pytest.
    app.config["PROPAGATE_EXCEPTIONS"] = False
    with app.app_context():
        assert db.engine.dialect.name == "sqlite"
    yield app
    with app.app_context():
        db.engine.dispose()


def _client(app, email: str):
    """A client logged in as this demo account."""
    with app.app_context():
        account = db.session.scalar(select(Account).where(Account.email == email))
        db.session.expunge(account)
    client = app.test_client()
    factories.login(client, account, password=demo.DEMO_PASSWORD)
    return client


def _page(client, url: str, marker: str, headers=None) -> str:
    response = client.get(url, headers=headers or {})
    text = response.get_data(as_text=True)
    assert response.status_code == 200, (url, response.status_code, text[:300])
    assert UNAVAILABLE_TITLE not in text, url
    assert marker in text, (url, marker, text[:300])
    return text


def _numbers(html: str) -> list[str]:
    """The numbers of the pieces the Tableau de bord's list shows, in its order."""
    return re.findall(r'data-testid="board-row" data-piece-id="\d+">\s*<td><a class="mono" href="[^"]*">([^<]+)</a>',
                      html)


def _options(html: str, name: str) -> list[str]:
    """The values a select of the filter offers (the empty « all » left out)."""
    found = re.search(rf'<select[^>]*name="{name}".*?</select>', html, re.S)
    return [value for value in re.findall(r'<option[^>]*value="([^"]*)"', found.group(0)) if value] if found else []


def _next(html: str) -> str | None:
    found = re.search(r'href="([^"]+)"[^>]*rel="next"', html)
    return found.group(1).replace("&amp;", "&") if found else None


@pytest.mark.parametrize("email", list(SIRETS))
def test_every_dashboard_page_answers_on_sqlite(sqlite_app, email, monkeypatch):
    client = _client(sqlite_app, email)
    base = f"/s/{SIRETS[email]}"
    _page(client, f"{base}/synthese", 'data-testid="link-tableau-de-bord"')
    board = _page(client, f"{base}/tableau-de-bord", 'data-testid="board-notifications"')
    listed = "data-testid=\"board-list\"" in board
    if not listed:  # a member without the right to read pieces: the page says so, the lists answer 403
        assert client.get(f"{base}/tableau-de-bord/marches").status_code == 403
        return
    assert 'data-testid="by-status"' in board and 'data-testid="by-marche"' in board

    # Each filter the form offers, with each value it offers (the demo's), alone; and the HTMX fragment of each.
    offered = {name: _options(board, name) for name in ("marche_id", "party_id", "cadre", "status")}
    assert offered["marche_id"] and offered["status"], email
    queries = [{name: value} for name, values in offered.items() for value in values]
    queries += [{"du": "2020-01-01", "au": "2100-12-31"}, {"du": "2100-01-01"}]
    for query in queries:
        url = f"{base}/tableau-de-bord?{urlencode(query)}"
        _page(client, url, 'data-testid="board-list"')
        _page(client, url, 'id="board"', headers={"HX-Request": "true"})

    # Each sort, both ways.
    for key in dashboard.SORTS:
        for sort in (key, f"-{key}"):
            _page(client, f"{base}/tableau-de-bord?tri={sort}", 'data-testid="board-list"')

    # The number search: the start of a number the list shows finds it.
    numbers = _numbers(board)
    if numbers:
        found = _page(client, f"{base}/tableau-de-bord?number={numbers[0][:4]}", 'data-testid="board-list"')
        assert numbers[0] in _numbers(found)

    # A next page, and back: two rows a page.
    monkeypatch.setattr(dashboard_views, "BOARD_PER_PAGE", 2)
    first = _page(client, f"{base}/tableau-de-bord?tri=numero", 'data-testid="board-list"')
    following = _next(first)
    if len(numbers) > 2 or following:
        assert following, email
        second = _page(client, following, 'data-testid="board-list"')
        assert set(_numbers(second)).isdisjoint(_numbers(first))
        _page(client, following, 'id="board"', headers={"HX-Request": "true"})

    _page(client, f"{base}/tableau-de-bord/marches", 'data-testid="marches-page"')
    _page(client, f"{base}/tableau-de-bord/entreprises", 'data-testid="subcontractors-page"')
    _page(client, f"{base}/tableau-de-bord/notifications", 'data-testid="unread-count"',
          headers={"HX-Request": "true"})
