"""The help centre as its readers meet it: every article renders, publicly and inside a structure (with the
structure's menu); every link of every article leads to a real page of the product; the ways from an article to a page
(« Pour quelle structure ? », « Pour quel marché ? ») offer only the reader's own structures and marchés; the search
page shows ranked, highlighted, escaped results."""
from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

import pytest
from werkzeug.exceptions import MethodNotAllowed, NotFound

from chorus_chain.help_articles import ARTICLES
from tests import factories
from tests.integration.test_tenancy_walk import _victim_marche

HREF = re.compile(r'<a [^>]*href="([^"]+)"')


def _article_links(body: str) -> list[str]:
    """The links inside the article itself (not the menus, the related list or the footer)."""
    inside = body.split('<article class="help-article card">', 1)[1].split("</article>", 1)[0]
    return [html.unescape(href) for href in HREF.findall(inside)]


@pytest.fixture
def reader(app, db):
    """A gestionnaire principal (every right) of a company holding one confirmed marché."""
    owner = factories.account(app)
    structure = factories.structure(app, owner, name="Entreprise lectrice")
    marche_id, _ = _victim_marche(app, structure)
    return owner, structure, marche_id


def _second_marche(app, structure, reference: str) -> int:
    """Another marché held by the structure (titulaire, confirmed): its id."""
    from decimal import Decimal

    from chorus_chain.extensions import db
    from chorus_chain.models import Marche, MarcheParty

    with app.app_context():
        marche = Marche(reference=reference, objet="Second marché", kind="travaux", montant_ht=Decimal("50000.00"),
                        tva_rate=Decimal("20.00"), dgp_days=30, created_by_id=structure.id)
        db.session.add(marche)
        db.session.flush()
        db.session.add(MarcheParty(marche_id=marche.id, structure_id=structure.id, siret=structure.siret,
                                   name=structure.name, role="titulaire", status="confirmed"))
        db.session.commit()
        return marche.id


def _resolves(app, path: str) -> str:
    """The endpoint a path of this site answers with (raises when no route matches it)."""
    adapter = app.url_map.bind("localhost")
    endpoint, _ = adapter.match(urlsplit(path).path, method="GET")
    return endpoint


@pytest.mark.parametrize("article", ARTICLES, ids=lambda a: a.slug)
def test_every_article_renders_publicly_and_inside_a_structure(app, client, reader, article):
    public = client.get(f"/aide/{article.slug}")
    assert public.status_code == 200
    text = html.unescape(public.get_data(as_text=True))
    assert article.title in text and "page:" not in text and "aide:" not in text
    owner, structure, _ = reader
    factories.login(client, owner)
    inside = client.get(f"/s/{structure.siret}/aide/{article.slug}")
    assert inside.status_code == 200
    body = inside.get_data(as_text=True)
    assert 'data-testid="nav-synthese"' in body  # the structure's menu stays on screen
    assert 'class="tenantnav"' in body and html.escape(structure.name) in body


def test_every_link_of_every_article_leads_to_a_real_page(app, client, reader):
    """Inside a structure, every link of every article is followed to its end: a route of the product answering 200
    (the marché pages straight through « Pour quel marché ? », the structure having a single marché)."""
    owner, structure, marche_id = reader
    factories.login(client, owner)
    seen: dict[str, int] = {}
    for article in ARTICLES:
        body = client.get(f"/s/{structure.siret}/aide/{article.slug}").get_data(as_text=True)
        links = _article_links(body)
        assert links, f"{article.slug} has no link"
        for href in links:
            assert href.startswith("/"), f"{article.slug}: {href} leaves the product"
            if href in seen:
                continue
            _resolves(app, href)
            response = client.get(href, follow_redirects=True)
            seen[href] = response.status_code
            assert response.status_code == 200, f"{article.slug}: {href} → {response.status_code}"
            final = response.request.path
            assert _resolves(app, final) != "help.go", f"{href} stopped on a chooser"
            if "/aide/aller/" in href:
                assert f"/marches/{marche_id}" in final, f"{href} → {final}: not the structure's marché"
    assert len(seen) > 40


def test_public_links_resolve_to_routes_and_reach_the_page_after_choosing(app, client, reader):
    """On the public help centre, a link to a structure's page goes through /aide/aller/<page>: anonymous readers
    log in first; a reader with one structure goes straight to its page."""
    owner, structure, _ = reader
    public_links = set()
    for article in ARTICLES:
        public_links.update(_article_links(client.get(f"/aide/{article.slug}").get_data(as_text=True)))
    for href in public_links:
        endpoint = _resolves(app, href)
        assert endpoint.startswith(("help.", "auth.", "accounts.", "rates.")), (href, endpoint)
    anonymous = client.get("/aide/aller/synthese")
    assert anonymous.status_code == 302 and "/connexion" in anonymous.headers["Location"]
    factories.login(client, owner)
    for href in sorted(h for h in public_links if h.startswith("/aide/aller/")):
        response = client.get(href, follow_redirects=True)
        assert response.status_code == 200, f"{href} → {response.status_code}"
        assert response.request.path.startswith(f"/s/{structure.siret}/"), (href, response.request.path)


def test_a_reader_of_two_structures_chooses_among_their_own_only(app, client, reader):
    owner, structure, _ = reader
    second = factories.structure(app, owner, name="Seconde société du lecteur")
    stranger = factories.structure(app, factories.account(app), name="Société d'un inconnu")
    factories.login(client, owner)
    page = client.get("/aide/aller/coordonnees-bancaires")
    assert page.status_code == 200
    body = html.unescape(page.get_data(as_text=True))
    assert "Pour quelle structure ?" in body
    assert f"/s/{structure.siret}/coordonnees-bancaires" in body and f"/s/{second.siret}/coordonnees-bancaires" in body
    assert stranger.name not in body and stranger.siret not in body
    assert client.get("/aide/aller/nulle-part").status_code == 404


def test_pour_quel_marche_lists_only_the_structures_marches(app, client, reader):
    owner, structure, marche_id = reader
    other_id = _second_marche(app, structure, f"SECOND-{structure.siret}")
    foreign = factories.structure(app, factories.account(app), name="Autre titulaire")
    foreign_marche, _ = _victim_marche(app, foreign)
    factories.login(client, owner)
    page = client.get(f"/s/{structure.siret}/aide/aller/etats-acompte")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "Pour quel marché ?" in html.unescape(body)
    assert f"/marches/{marche_id}/etats/" in body and f"/marches/{other_id}/etats/" in body
    assert f"/marches/{foreign_marche}/" not in body and f"WALK-{foreign.siret}" not in body
    # A page that is not a marché's goes straight to it.
    straight = client.get(f"/s/{structure.siret}/aide/aller/synthese")
    assert straight.status_code == 302 and straight.headers["Location"].endswith(f"/s/{structure.siret}/synthese")


def test_a_company_without_marche_is_told_so(app, client, db):
    owner = factories.account(app)
    structure = factories.structure(app, owner)
    factories.login(client, owner)
    body = html.unescape(client.get(f"/s/{structure.siret}/aide/aller/finances").get_data(as_text=True))
    assert "aucun marché confirmé" in body and f"/s/{structure.siret}/marches/" in body


def test_inside_a_structure_the_header_and_the_results_stay_inside(app, client, reader):
    owner, structure, _ = reader
    factories.login(client, owner)
    body = client.get(f"/s/{structure.siret}/synthese").get_data(as_text=True)
    assert f'href="/s/{structure.siret}/aide/"' in body  # the header's « Aide »
    results = client.get(f"/s/{structure.siret}/aide/", query_string={"q": "retenu de garanti"})
    text = results.get_data(as_text=True)
    assert results.status_code == 200 and 'data-testid="nav-synthese"' in text
    first = text.split('class="help-results"', 1)[1]
    assert f'href="/s/{structure.siret}/aide/retenue-de-garantie"' in first.split("</li>", 1)[0]


@pytest.mark.parametrize("query, first", [
    ("retenue de garantie", "retenue-de-garantie"), ("retenu de garanti", "retenue-de-garantie"),
    ("autoliquidation", "autoliquidation"), ("auto liquidation", "autoliquidation"),
    ("mot de passe", "mot-de-passe"), ("mdp", "mot-de-passe"),
    ("facturx", "facturx"), ("factur-x", "facturx"),
])
def test_search_page_ranks_and_highlights(client, db, query, first):
    page = client.get("/aide/", query_string={"q": query})
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    results = body.split('class="help-results"', 1)[1].split("</ol>", 1)[0]
    links = re.findall(r'href="/aide/([^"]+)"', results)
    assert links and links[0] == first, links
    snippet = results.split('<p class="help-snippet">', 1)[1].split("</p>", 1)[0]
    assert "<mark>" in snippet and re.sub(r"</?mark>", "", snippet).count("<") == 0


def test_search_page_escapes_the_query_and_survives_junk(client, db):
    page = client.get("/aide/", query_string={"q": '<script>alert("x")</script> retenue'})
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "<script>alert" not in body and "&lt;script&gt;" in body
    assert "Aucun article ne correspond" in html.unescape(client.get("/aide/?q=xylophone").get_data(as_text=True))
    assert client.get("/aide/", query_string={"q": "é" * 10_000}).status_code == 200
    assert client.get("/aide/", query_string={"q": "\x00"}).status_code in (200, 400)


def test_every_route_of_the_help_centre_exists(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert {"help.index", "help.article", "help.go", "structure_help.index", "structure_help.article",
            "structure_help.marche_go"} <= endpoints
    with pytest.raises((NotFound, MethodNotAllowed)):
        _resolves(app, "/aide/un/deux/trois")
