"""Companies that are never in an état d'acompte (issue 15): a sous-traitant of rang 2 (Petit, under Leroy) or one
under the paiement direct threshold (Moreau, 480 € TTC under Durand) is paid by its donneur d'ordre through private
invoices. Its finances page says so and promises no chart « with the first état »; the états page never says
« payé » of an amount only certified."""
from __future__ import annotations

import html
import re

from tests.integration.test_marches_visibility import client_for, demo_world  # noqa: F401  (fixture)


def text(response) -> str:
    assert response.status_code == 200, response.status_code
    spaced = re.sub(r"[\s\u00a0\u202f]+", " ", html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))))
    return re.sub(r" (?=[,.])", "", spaced)  # « <strong>Durand</strong>, » reads « Durand, »


def test_who_is_paid_by_its_donneur_d_ordre_is_told_so_on_its_finances(app, demo_world):
    marche = demo_world["marche_id"]
    for key, payer in (("st_nettoyage", "Durand Bâtiment SAS"), ("st_peinture", "Plâtrerie Leroy")):
        client, base = client_for(app, key)
        page = text(client.get(f"{base}/{marche}/finances"))
        assert f"vous êtes payé par {payer}, votre donneur d'ordre" in page, key
        assert "apparaîtront avec le premier état d'acompte" not in page and "aucun état d'acompte" in page
        assert "Dernier état d'acompte" not in page
        etats = text(client.get(f"{base}/{marche}/etats/"))
        assert f"Vous n'apparaissez dans aucun état d'acompte : sur ce marché, {payer}" in etats, key
    # A sous-traitant in paiement direct is in the états: its own figures, no such message.
    client, base = client_for(app, "st_platrerie")
    page = text(client.get(f"{base}/{marche}/finances"))
    assert "votre donneur d'ordre" not in page and "Certifié à ce jour" in page


def test_the_etats_page_says_paid_only_of_what_was_paid(app, demo_world):
    client, base = client_for(app, "st_platrerie")
    page = text(client.get(f"{base}/{demo_world['marche_id']}/etats/"))
    assert "Vous est payé" not in page and "Vous revient dans cet état" in page
    # État n° 2 was paid to Leroy line by line; n° 3 waits for the MOA: certified, not paid.
    rows = {m.group(1): m.group(0) for m in re.finditer(r"n° (\d) .*?(?= n° \d |$)", page)}
    assert re.search(r"11 400,00 € 11 400,00 € le ", rows["2"]), rows["2"]
    assert "pas encore payé" in rows["3"], rows["3"]
