"""« Montants par entreprise » and the « Entreprise émettrice » filter bounded by what the page shows (issue 20): the
Tableau de bord's panel lists the few companies to look at first and sums the others, the whole list is a page of its
own walked with keyset links, and the filter offers a bounded list of companies (a search field beyond: test_board_filters.py)."""
from __future__ import annotations

import re

import pytest

from chorus_chain.operations.board_reading import parties
from tests.integration import pieces_world as pw


@pytest.fixture
def w(app, db):
    return pw.world(app)


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr data-party-id="(\d+)"', html)


def test_the_panel_shows_the_first_companies_sums_the_others_and_links_the_whole_list(app, w, monkeypatch):
    sibling = pw.deposit(app, w, w.sibling, "A10", "PAN-1", ht="1000.00")
    pw.act(app, w.mandataire, sibling, "validate")
    pw.deposit(app, w, w.st1, "A10", "PAN-2", ht="500.00")
    monkeypatch.setattr(parties, "PANEL_LINES", 1)
    client = pw.logged_in(app, w.mandataire)
    base = f"/s/{w.mandataire.siret}/tableau-de-bord"
    html = client.get(base).get_data(as_text=True)
    panel = html[html.index('data-testid="panel-holder"'):]
    panel = panel[:panel.index("</section>")]
    # The sibling's validated 1 000 € is the most to pay: its line alone; the others summed, the whole list linked.
    assert _rows(panel) == [str(w.sibling.party_id)]
    rest = re.search(r'data-testid="subcontractors-rest">(.*?)</p>', panel, re.S).group(1)
    assert "autres entreprises" in rest and "facturé 500,00" in rest.replace("\u202f", " ").replace("\xa0", " ")
    assert f'href="{base}/entreprises"' in panel

    monkeypatch.setattr(parties, "PAGE_LINES", 2)

    def walk(url, rel):
        pages = []
        while url:
            page = client.get(url)
            assert page.status_code == 200
            text = page.get_data(as_text=True)
            pages.append(_rows(text))
            link = re.search(rf'href="([^"]+)" rel="{rel}"', text)
            url = link.group(1).replace("&amp;", "&") if link else None
        return pages, text

    forwards, last = walk(f"{base}/entreprises", "next")
    seen = [row for page in forwards for row in page]
    # Back from the last page by its « Précédent » links: the same pages, in reverse, down to the first.
    previous = re.search(r'href="([^"]+)" rel="prev"', last).group(1).replace("&amp;", "&")
    backwards, _ = walk(previous, "prev")
    assert backwards == forwards[-2::-1]
    # Every company under the mandataire (its sous-traitants and its co-traitant), once each, by marché and name.
    assert len(seen) == len(set(seen)) >= 3
    assert {str(w.sibling.party_id), str(w.st1.party_id), str(w.cotraitant.party_id)} <= set(seen)
    assert client.get(f"{base}/entreprises?apres=garbage").status_code == 200


def test_the_marche_card_shows_those_under_way_sums_the_others_and_links_the_whole_list(app, w, monkeypatch):
    """« Par marché » bounded (issue 20): the marchés with the most pieces under way, the others summed in « N
    autres marchés », the whole list a page of its own by reference."""
    from chorus_chain.operations.board_reading import marches

    pw.deposit(app, w, w.st1, "A10", "MAR-1", ht="1000.00")
    pw.deposit(app, w, w.st1, "A10", "MAR-2", ht="500.00")
    client = pw.logged_in(app, w.mandataire)
    base = f"/s/{w.mandataire.siret}/tableau-de-bord"
    html = client.get(base).get_data(as_text=True)
    card = html[html.index('data-testid="by-marche"'):]
    card = card[:card.index("</section>")]
    assert f'data-marche-id="{w.marche_id}"' in card and 'data-testid="other-marches"' not in card
    monkeypatch.setattr(marches, "CARD_LINES", 0)
    html = client.get(base).get_data(as_text=True)
    card = html[html.index('data-testid="by-marche"'):]
    card = card[:card.index("</section>")]
    assert 'data-marche-id=' not in card
    others = re.search(r'data-testid="other-marches">(.*?)</tr>', card, re.S).group(1)
    assert "1 autre marché" in others and "<td class=\"num\">2</td>" in others
    assert f'href="{base}/marches"' in card
    page = client.get(f"{base}/marches")
    assert page.status_code == 200
    assert re.findall(r'<tr data-marche-id="(\d+)"', page.get_data(as_text=True)) == [str(w.marche_id)]
    assert client.get(f"{base}/marches?apres=garbage").status_code == 200
