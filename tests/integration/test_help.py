"""Contextual help on the piece pages, the public help centre and its search, the e-invoicing reform page."""
from __future__ import annotations

import html
import re

import pytest

from tests import factories
from tests.integration.test_tenancy_walk import _victim_marche

ROUTE = [{"party_id": None, "structure_id": None, "siret": "", "role": role, "step": step}
         for role, step in (("moe", "moe"), ("moa", "moa"), ("paying_office", "paiement"))]


def _url(app, endpoint, **args):
    with app.test_request_context():
        from flask import url_for

        return url_for(endpoint, **args)


@pytest.fixture
def owner_and_structure(app, db):
    owner = factories.account(app)
    structure = factories.structure(app, owner, size_class="pme")
    return owner, structure


def test_help_centre_is_public_and_lists_articles(client, db):
    page = client.get("/aide/")
    assert page.status_code == 200
    text = html.unescape(page.get_data(as_text=True))
    for title in ("Créer une structure", "Déclarer un sous-traitant (DC4)", "Le décompte général et définitif tacite"):
        assert title in text
    article = client.get("/aide/piece-a-recycler")
    assert article.status_code == 200 and "même numéro" in html.unescape(article.get_data(as_text=True))
    assert client.get("/aide/nexiste-pas").status_code == 404


@pytest.mark.parametrize("query, first", [
    ("pièce à recycler", "piece-a-recycler"),
    ("decompte general tacite", "dgd-tacite"),
    ("intérêts moratoires retard", "interets-moratoires"),
    ("sous-traitant DC4", "declarer-un-sous-traitant"),
])
def test_search_ranks_the_right_article_first(client, db, query, first):
    page = client.get("/aide/", query_string={"q": query})
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    links = [part.split('"')[0] for part in body.split('class="help-results"')[1].split('href="/aide/')[1:]]
    assert links and links[0] == first, links


def test_search_without_result_says_so(client, db):
    body = html.unescape(client.get("/aide/", query_string={"q": "xylophone"}).get_data(as_text=True))
    assert "Aucun article ne correspond" in body
    assert client.get("/aide/", query_string={"q": "x" * 5000}).status_code == 200


def test_piece_page_explains_status_and_what_to_do(app, client, owner_and_structure):
    owner, structure = owner_and_structure
    marche_id, party_id = _victim_marche(app, structure)
    piece_id, _ = factories.piece(app, structure, marche_id, party_id, status="A_RECYCLER", route=ROUTE)
    factories.login(client, owner)
    page = client.get(_url(app, "pieces.show", siret=structure.siret, piece_id=piece_id))
    assert page.status_code == 200
    body = html.unescape(page.get_data(as_text=True))
    assert "<abbr" in body and 'class="help-tip" popovertarget="' in body
    # Every badge's « ? » opens an explanation the page carries (help_ui: written once per page part).
    targets = re.findall(r'popovertarget="([^"]+)"', body)
    assert targets and all(f'id="{target}"' in body for target in targets)
    assert "Que faire maintenant ?" in body
    assert "Corrigez le code service ou le numéro d'engagement puis renvoyez la pièce" in body
    assert "/aide/piece-a-recycler" in body
    assert "style=" not in body.split("<main", 1)[1]


def test_piece_waiting_on_others_tells_the_emitter_to_wait(app, client, owner_and_structure):
    owner, structure = owner_and_structure
    marche_id, party_id = _victim_marche(app, structure)
    piece_id, _ = factories.piece(app, structure, marche_id, party_id, status="A_ASSOCIER_MOE", route=ROUTE)
    factories.login(client, owner)
    body = html.unescape(client.get(_url(app, "pieces.show", siret=structure.siret, piece_id=piece_id))
                         .get_data(as_text=True))
    assert "Rien à faire pour l'instant : le maître d'œuvre doit émettre son état d'acompte" in body
    assert "Délai du maître d'œuvre" in body or "aide-cadre" in body


def test_reform_page_for_a_pme(app, client, owner_and_structure):
    owner, structure = owner_and_structure
    factories.login(client, owner)
    page = client.get(f"/s/{structure.siret}/facturation-electronique")
    assert page.status_code == 200
    body = html.unescape(page.get_data(as_text=True))
    assert "1er septembre 2026" in body and "1er septembre 2027" in body
    assert "plateforme agréée (PA)" in body and "Chorus Pro" in body and "Factur-X" in body
    assert "Facturation électronique" in body  # the nav link
    assert ("déjà en vigueur" in body) or ("dans " in body)


def test_reform_page_any_member_but_not_outsiders(app, client, owner_and_structure):
    _, structure = owner_and_structure
    powerless = factories.account(app)
    factories.member(app, structure, powerless, emises="none", travaux="none", recues="none", organisation="none")
    factories.login(client, powerless)
    assert client.get(f"/s/{structure.siret}/facturation-electronique").status_code == 200
    outsider, other = factories.account(app), app.test_client()
    factories.login(other, outsider)
    assert other.get(f"/s/{structure.siret}/facturation-electronique").status_code == 404


def test_explanations_no_fragment_wrote_are_appended_to_the_answer(app):
    """A fragment whose template does not write its badges' explanations still answers them (web): no « ? » opens
    nothing. A JSON answer is left alone."""
    from flask import Response

    from chorus_chain import help_ui, web

    with app.test_request_context("/"):
        badge = str(help_ui.status_badge("DEPOSEE"))
        tip = re.search(r'popovertarget="([^"]+)"', badge).group(1)
        answer = web._unwritten_help_texts(Response(f"<div>{badge}</div>", mimetype="text/html"))
        assert answer.get_data(as_text=True).count(f'id="{tip}"') == 1
        assert web._unwritten_help_texts(Response("<p></p>", mimetype="text/html")).get_data(as_text=True) == "<p></p>"
        help_ui.status_badge("DEPOSEE")
        assert web._unwritten_help_texts(Response("{}", mimetype="application/json")).get_data(as_text=True) == "{}"
