"""Amounts that differ between pages say why (issue 15): every place that shows a piece's amount — the Synthèse, the
Tableau de bord's list and panels, the sous-traitant's payment tracker, the pieces lists (émises, reçues, à traiter)
and the piece page — shows the amount requested, the amount to pay, why they differ and the link to what decided it,
through the one macro (templates/_amount_macros.html) and the one rule (domain.amount_why). On the demo: the third
état's A15 (EA-M1-003, 231 120,00 TTC, 207 551,10 to pay after the retenue and the advance), Leroy's projet de
décompte in the second état (PL-PDM-02, 12 000,00 → 11 400,00) and Bernard's piece validated partially by Martin
(MB-2026-001, 4 200,00 → 3 600,00 with its reason: the engine's value of the 6 blocs-portes admitted of 7)."""
from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from chorus_chain import access, demo
from chorus_chain.extensions import db
from chorus_chain.models import Account, Marche, Piece
from chorus_chain.models.money import EtatAcompte
from tests import factories
from tests.conftest import ensure_demo

SIRET = {c.key: c.siret for c in demo.COMPANIES}
EMAIL = {c.key: c.email for c in demo.COMPANIES}
A15 = ("EA-M1-003", "231 120,00", "207 551,10",
       "État d'acompte n° 3 du maître d'œuvre : retenue de garantie et remboursement de l'avance.")
LEROY = ("PL-PDM-02", "12 000,00", "11 400,00", "État d'acompte n° 2 du maître d'œuvre : retenue de garantie.")
PARTIAL = ("MB-2026-001", "4 200,00", "3 600,00",
           "Validée partiellement par le donneur d'ordre : « Lot 06 : 6 blocs-portes posés sur 7 ce mois ».")


IDS: dict = {}  # the A15's number holds the marché's id: read from the database by the `ids` fixture


@pytest.fixture(scope="module")
def app(demo_app):
    return demo_app


@pytest.fixture
def ids(app, db):
    with app.test_request_context(), access.system_access("test set-up: the demo's piece ids"):
        ensure_demo()
        pieces = dict(db.session.execute(select(Piece.number, Piece.id)).all())
        marche_id = db.session.scalar(select(Marche.id).where(Marche.reference == demo.DEMO_MARCHE))
        etat = db.session.scalar(select(EtatAcompte).where(EtatAcompte.marche_id == marche_id,
                                                           EtatAcompte.number == 3))
        a15 = db.session.get(Piece, etat.piece_id).number  # EA-M<marché id>-003
        pieces["EA-M1-003"] = etat.piece_id
        IDS["a15"] = a15
        second = db.session.scalar(select(EtatAcompte.id).where(EtatAcompte.marche_id == marche_id,
                                                                EtatAcompte.number == 2))
        return {"pieces": pieces, "etat": (etat.marche_id, etat.id), "a15": a15, "etat2": (marche_id, second)}


def page(app, key: str, path: str) -> str:
    with app.app_context():
        account = db.session.scalar(select(Account).where(Account.email == EMAIL[key]))
        db.session.expunge(account)
    client = app.test_client()
    factories.login(client, account, password=demo.DEMO_PASSWORD)
    response = client.get(f"/s/{SIRET[key]}{path}")
    assert response.status_code == 200, path
    return html.unescape(response.get_data(as_text=True))


def section(text: str, start: str, end: str | None = None) -> str:
    assert start in text, start
    part = text.split(start, 1)[1]
    return part.split(end, 1)[0] if end else part


def says_why(fragment: str, expected, href: str) -> None:
    """The piece's number, then (before the next piece) its amount requested, its amount to pay, the why and the
    link to what decided it."""
    number, requested, accepted, reason = expected
    number = IDS["a15"] if number == "EA-M1-003" else number
    assert f">{number}</a>" in fragment, number
    item = fragment.split(f">{number}</a>", 1)[1].split('class="mono"', 1)[0]
    plain = flat(item)
    assert f"{requested} €" in plain, (number, plain[:400])
    assert re.search(rf"(Montant à payer|Montant accepté) : {re.escape(accepted)} €", plain), (number, plain[:400])
    assert reason in plain, (number, plain[:400])
    assert f'href="{href}"' in item, (number, href, item[:600])


def etat_href(siret: str, ids, anchor: str, which: str = "etat") -> str:
    marche_id, etat_id = ids[which]
    return f"/s/{siret}/marches/{marche_id}/etats/{etat_id}#{anchor}"


def test_the_syntheses_a15_card_says_why_it_pays_less_than_its_ttc(app, ids):
    work = section(page(app, "moa", "/synthese"), 'data-testid="work-list"')
    says_why(work, A15, etat_href(SIRET["moa"], ids, "marche-title"))


def test_the_tableau_de_bord_list_and_the_moa_panels_say_why(app, ids):
    text = page(app, "moa", "/tableau-de-bord")
    href = etat_href(SIRET["moa"], ids, "marche-title")
    says_why(section(text, 'data-testid="board-row"', 'data-testid="panel-moa"'), A15, href)
    says_why(section(text, "États d'acompte à valider", "Pièces à traiter pour le paiement"), A15, href)
    clocks = section(text, "Délai global de paiement de chaque paiement", "Intérêts moratoires à payer")
    assert clocks.count('data-testid="amount-why"') >= 1 and 'data-testid="amount-why-link"' in clocks


def test_the_holders_panel_says_why_a_subcontractors_piece_was_accepted_for_less(app, ids):
    panel = section(page(app, "mandataire", "/tableau-de-bord"), 'data-testid="panel-holder"', "Validées tacitement")
    says_why(panel, PARTIAL, f"/s/{SIRET['mandataire']}/pieces/{ids['pieces']['MB-2026-001']}#piece-timeline")


def test_the_payment_tracker_says_why_the_subcontractor_is_paid_less(app, ids):
    tracker = section(page(app, "st_platrerie", "/tableau-de-bord"), 'data-testid="panel-sous-traitant"')
    says_why(tracker, LEROY, etat_href(SIRET["st_platrerie"], ids, f"b-{_party(app, 'st_platrerie')}", "etat2"))


@pytest.mark.parametrize("key, path, expected", [
    ("st_platrerie", "/pieces/emises", LEROY), ("mandataire", "/pieces/recues", PARTIAL), ("moa", "/pieces/", A15)])
def test_the_pieces_lists_say_why(app, ids, key, path, expected):
    table = section(page(app, key, path), "<tbody>", "</tbody>")
    number = expected[0]
    if number == "EA-M1-003":
        href = etat_href(SIRET[key], ids, "marche-title")
    elif number == "PL-PDM-02":
        href = etat_href(SIRET[key], ids, f"b-{_party(app, 'st_platrerie')}", "etat2")
    else:
        href = f"/s/{SIRET[key]}/pieces/{ids['pieces'][number]}#piece-timeline"
    says_why(table, expected, href)


def test_the_piece_page_details_the_engines_steps_from_one_amount_to_the_other(app, ids):
    text = page(app, "moa", f"/pieces/{ids['pieces']['EA-M1-003']}")
    amounts = section(text, 'id="piece-amounts"', "</section>")
    plain = flat(amounts)
    assert "Différent du montant demandé (231 120,00 € TTC) : " + A15[3] in plain
    assert re.search(r"Demandé 231 120,00 € Retenue de garantie -11 556,00 € Remboursement de l'avance "
                     r"-12 012,90 € Montant à payer 207 551,10 €", plain), plain
    assert f'href="{etat_href(SIRET["moa"], ids, "marche-title")}"' in amounts
    leroy = section(page(app, "st_platrerie", f"/pieces/{ids['pieces']['PL-PDM-02']}"), 'id="piece-amounts"',
                    "</section>")
    assert "Montant à payer 11 400,00 €" in flat(leroy) and LEROY[3] in flat(leroy)
    party = str(_party(app, "st_platrerie"))
    assert f'href="{etat_href(SIRET["st_platrerie"], ids, "b-" + party, "etat2")}"' in leroy
    partial = section(page(app, "st_menuiserie", f"/pieces/{ids['pieces']['MB-2026-001']}"), 'id="piece-amounts"',
                      "</section>")
    assert "Montant accepté 3 600,00 €" in flat(partial) and PARTIAL[3] in flat(partial)
    assert f'href="/s/{SIRET["st_menuiserie"]}/pieces/{ids["pieces"]["MB-2026-001"]}#piece-timeline"' in partial


def flat(fragment: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment)).replace("\u202f", " ").replace("\xa0", " ")


def _party(app, key: str) -> int:
    from chorus_chain.models import MarcheParty

    with app.app_context():
        return db.session.scalar(select(MarcheParty.id).where(MarcheParty.siret == SIRET[key],
                                                              MarcheParty.role == "sous_traitant"))
