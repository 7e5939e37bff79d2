"""The état d'acompte as a document, through the pages (issue 12): the MOA validates or returns it on the état page,
the paying office pays each line there, and each company sees its own line only — on the état, on its projet de
décompte and in its Synthèse's tracker. The month: tests/integration/etat_pieces_world.py."""
from __future__ import annotations

import re

from chorus_chain.models import PieceEvent
from chorus_chain.models.base import utcnow
from chorus_chain.operations import marches as marche_ops
from chorus_chain.models.etat_pieces import LinePayment, PayableLine
from tests.integration.etat_pieces_world import at, correct_st1, issue, month_of_may, open_etat
from tests.integration.pieces_world import count, logged_in, rows, world


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).replace("\u202f", " ") \
        .replace("\xa0", " ")


def test_the_moa_validates_the_paying_office_pays_and_each_company_sees_its_own_line(app, db):
    w = world(app)
    pdm = month_of_may(app, w)
    etat_id = open_etat(app, w, "2026-05", at("2026-05-22"))
    correct_st1(app, w, etat_id)
    issue(app, w, etat_id, at("2026-05-23"))
    moa = logged_in(app, w.moa)
    page = f"/s/{w.moa.siret}/marches/{w.marche_id}/etats/{etat_id}"
    shown = _text(moa.get(page))
    assert "À valider par le maître d'ouvrage" in shown and "Valider l'état d'acompte n° 1 (34 428,00 €)" in shown

    # Returning without a reason: a French message, nothing changes.
    events = count(app, PieceEvent)
    refused = moa.post(f"{page}/renvoyer", data={"reason": " "})
    assert refused.status_code == 422 and "Indiquez pourquoi vous renvoyez" in _text(refused)
    assert count(app, PieceEvent) == events

    assert moa.post(f"{page}/valider").status_code in (302, 303)
    shown = _text(moa.get(page))
    assert "Validé par le maître d'ouvrage" in shown and "Lignes à payer" in shown
    lines = {line.name: line for line in rows(app, PayableLine, PayableLine.etat_acompte_id == etat_id)}
    st1_line = lines[w.st1.name]
    # The paying office (the MOA's structure here): service fait, mandat, then more than the line → refused.
    today = marche_ops.today(utcnow()).isoformat()  # the pages act at the real instant: validated today
    for step, day in (("service_fait", today), ("mandat", today)):
        assert moa.post(f"{page}/lignes-a-payer/{st1_line.id}", data={"step": step, "day": day}).status_code in (302, 303)
    too_much = moa.post(f"{page}/lignes-a-payer/{st1_line.id}",
                        data={"step": "paiement", "amount": "4 560,01", "day": today})
    assert too_much.status_code == 422 and "dépasse ce qui reste à payer" in _text(too_much)
    assert count(app, LinePayment) == 0
    # Paid today: late (due 19 June 2026), so the line carries the interest and the 40 €.
    paid = moa.post(f"{page}/lignes-a-payer/{st1_line.id}",
                    data={"step": "paiement", "amount": "4 560,00", "day": today})
    assert paid.status_code in (302, 303), _text(paid)[-600:]

    # Plâtrerie Test (st1) sees its own line on the état, paid, and no neighbour's line.
    leroy = logged_in(app, w.st1)
    shown = _text(leroy.get(f"/s/{w.st1.siret}/marches/{w.marche_id}/etats/{etat_id}"))
    assert "Votre ligne de paiement" in shown
    lines_section = shown[shown.index("Votre ligne de paiement"):]
    assert "payée" in lines_section and w.mandataire.name not in lines_section[:1500]
    assert w.cotraitant.name not in lines_section[:1500]
    # Its projet de décompte says which état carries it, claimed against accepted, with a link to its line.
    piece_page = _text(leroy.get(f"/s/{w.st1.siret}/pieces/{pdm['st1']}"))
    assert "Associé à l'état d'acompte n° 1" in piece_page
    assert "Demandé 9 600,00 € TTC" in piece_page and "Accepté dans l'état 4 560,00 €" in piece_page
    assert "Voir l'état et sa ligne de paiement" in piece_page
    # Its tracker (tableau de bord, « où en est votre argent ») shows its line paid, with the delay's cost.
    tracker = _text(leroy.get(f"/s/{w.st1.siret}/tableau-de-bord"))
    assert "Dans l'état d'acompte n° 1 : votre ligne 4 560,00 € — payée le" in tracker
    assert "paiement en retard" in tracker and "40,00 € d'indemnité forfaitaire" in tracker
