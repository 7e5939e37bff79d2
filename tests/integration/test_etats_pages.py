"""The états d'acompte pages: the MOE corrects and issues through the pages; the état page shows claimed vs admitted,
the legal layout, the payables and "Comment est-ce calculé ?"; a sous-traitant sees only its own part."""
from __future__ import annotations

import html

from chorus_chain.extensions import db
from chorus_chain.models import Account
from chorus_chain.models.money import DecompteLine, EtatAcompte
from tests import factories
from tests.integration.etats_world import price_line, taken_pdm
from tests.integration.pieces_world import rows, status_of, world


def _login(app, client, who):
    with app.app_context():
        factories.login(client, db.session.get(Account, who.account_id))


def _page(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_the_moe_corrects_and_issues_through_the_pages_and_each_company_sees_its_share(app, client, db):
    w = world(app)
    m_line = price_line(app, w, "M1", w.mandataire.party_id, quantity="100", unit_price="200")
    s_line = price_line(app, w, "S1", w.st1.party_id, quantity="96", unit_price="1000")
    m_piece = taken_pdm(app, w, w.mandataire, "PDM-1", month="2026-02", measures={m_line: "50"})
    s_piece = taken_pdm(app, w, w.st1, "ST-1", month="2026-02", measures={s_line: "5"})
    base = f"/s/{w.moe.siret}/marches/{w.marche_id}/etats"

    _login(app, client, w.moe)
    assert "États d'acompte du marché" in _page(client.get(base + "/"))
    bad = client.post(base + "/", data={"month": "février"})
    assert bad.status_code == 422 and "au format AAAA-MM" in _page(bad)
    opened = client.post(base + "/", data={"month": "2026-02"})
    assert opened.status_code == 302
    etat_id = rows(app, EtatAcompte)[0].id
    line_id = rows(app, DecompteLine, DecompteLine.price_line_id == m_line)[0].id

    refused = client.post(f"{base}/{etat_id}/lignes", data={"line_id": line_id, "quantity": "40"})
    assert refused.status_code == 422 and "Expliquez la correction" in _page(refused)
    assert client.post(f"{base}/{etat_id}/lignes", data={"line_id": line_id, "quantity": "40,0",
                                                         "comment": "Métré contradictoire"}).status_code == 302
    page = _page(client.get(f"{base}/{etat_id}"))
    assert "Brouillon — pas encore émis" in page and "travaux de février 2026" in page
    assert "<mark>-2\u202f000,00\u00a0€</mark>" in page  # 8 000 admitted − 10 000 claimed, highlighted
    assert "Comment est-ce calculé ?" in page
    assert "Retenue de garantie (Durand Test)" in page and "530,00\u00a0€" in page and "10\u202f070,00\u00a0€" in page
    assert "taux = 5\u00a0%" not in page  # operands are shown as stored fractions, not mislabelled
    assert "Métré contradictoire" in page

    issued = client.post(f"{base}/{etat_id}/emettre")
    assert issued.status_code == 302
    assert status_of(app, m_piece) == "A_ASSOCIER_MOA"
    page = _page(client.get(f"{base}/{etat_id}"))
    assert "Émis le" in page and "peut contester les montants corrigés jusqu'au" in page
    assert 'data-testid="etat-pdf"' in page  # the PDF of the issued état, rendered off the request path
    again = client.post(f"{base}/{etat_id}/emettre")
    assert again.status_code == 422 and "a déjà été émis" in _page(again)

    # The sous-traitant: its own part and payable only.
    client.post("/deconnexion")
    _login(app, client, w.st1)
    own = _page(client.get(f"/s/{w.st1.siret}/marches/{w.marche_id}/etats/{etat_id}"))
    assert "Plâtrerie Test" in own and "4\u202f750,00\u00a0€" in own
    assert "Durand Test" not in own and "Total du marché" not in own and "10\u202f070,00" not in own
    assert 'data-testid="etat-pdf"' not in own  # the whole état's PDF is for the MOE, the MOA and the holder
    listing = _page(client.get(f"/s/{w.st1.siret}/marches/{w.marche_id}/etats/"))
    # What the état gives it, and that nothing is paid yet: the page never says « payé » of a certified amount.
    assert "Vous revient dans cet état" in listing and "4\u202f750,00\u00a0€" in listing
    assert "pas encore payé" in listing and "Vous est payé" not in listing
    # Not the MOE: no change, whatever it posts.
    denied = client.post(f"/s/{w.st1.siret}/marches/{w.marche_id}/etats/", data={"month": "2026-03"})
    assert denied.status_code == 422 and "Seul le maître d'œuvre" in _page(denied)


def test_the_index_page_takes_the_moes_values(app, client, db):
    from decimal import Decimal

    from tests.integration.etats_world import setup_marche

    w = world(app)
    setup_marche(app, w, revision_a=Decimal("0.125"), revision_index="BT01", revision_base_month="2026-01")
    _login(app, client, w.moe)
    url = f"/s/{w.moe.siret}/marches/{w.marche_id}/etats/indices"
    assert client.post(url, data={"month": "2026-02", "value": "131,3"}).status_code == 302
    page = _page(client.get(url))
    assert "131,3" in page and "provisoire" in page
    bad = client.post(url, data={"month": "2026-02", "value": "-1"})
    assert bad.status_code == 422 and "valeur négative" in _page(bad)
