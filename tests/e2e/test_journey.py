"""The whole billing chain of the demo marché in a real browser, one person after the other, each through the pages
they use: a sous-traitant deposits its projet de décompte, its contractor validates, the maître d'œuvre issues the
état d'acompte, the maître d'ouvrage validates, the paying office pays, and the sous-traitant sees it paid.

Also: a tacit validation after the contractor's 15 days of silence (the deadline sweep run in-process against the
live server's database, with a `now` past the deadline), and a refusal with its reason, read by the depositor.
Screenshots of what each person sees are saved in tests/artifacts/.
"""
from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import expect
from sqlalchemy import select

from tests.e2e.actors import act, deposit_a10, enter, fresh_number, open_from_a_traiter, status_of
from tests.e2e.conftest import screenshot


def test_a_projet_de_decompte_from_deposit_to_payment(page):
    number = fresh_number("PL-J")

    # The sous-traitant (Plâtrerie Leroy, rang 1 under Durand, paiement direct) deposits its monthly projet.
    enter(page, "leroy")
    piece_url = deposit_a10(page, number, "4 800,00")
    expect(status_of(page)).to_contain_text("À valider par le donneur d'ordre")
    expect(page.locator("#piece-status")).to_contain_text("Durand Bâtiment SAS")
    screenshot(page, "journey-1-leroy-deposited")

    # Its contractor, the mandataire Durand, finds it in À traiter and validates it.
    enter(page, "durand")
    open_from_a_traiter(page, number)
    expect(page.locator("#piece-status")).to_contain_text("À vous d'agir")
    act(page, "Valider")
    expect(status_of(page)).to_contain_text("Chez le maître d'œuvre")
    screenshot(page, "journey-2-durand-validated")

    # The maître d'œuvre takes it into account and issues the état d'acompte.
    enter(page, "moe")
    open_from_a_traiter(page, number)
    act(page, "Prendre en compte")
    act(page, "Émettre l'état d'acompte", fields={})
    expect(status_of(page)).to_contain_text("Chez le maître d'ouvrage")
    screenshot(page, "journey-3-moe-etat-acompte")

    # The maître d'ouvrage validates; its financial service (same commune) records service fait, mandat, payment.
    enter(page, "mairie")
    open_from_a_traiter(page, number)
    act(page, "Prendre en compte")
    act(page, "Valider")
    act(page, "Constater le service fait")
    act(page, "Mandater")
    act(page, "Mettre en paiement", fields={})
    expect(status_of(page)).to_contain_text("Mise en paiement")
    screenshot(page, "journey-4-mairie-paid")

    # The sous-traitant's page shows it paid, with the amount and the day.
    enter(page, "leroy")
    page.goto(piece_url)
    expect(status_of(page)).to_contain_text("Mise en paiement")
    expect(page.locator("#piece-timeline")).to_contain_text("4 800,00")
    expect(page.locator("#piece-status")).to_contain_text("Rien à faire")
    screenshot(page, "journey-5-leroy-paid")


def test_tacit_validation_after_the_contractors_silence(page, live_server):
    from chorus_chain.extensions import db
    from chorus_chain.models import Deadline, Piece
    from chorus_chain.operations.deadlines import sweep

    _base, app = live_server
    number = fresh_number("PL-T")
    enter(page, "leroy")
    piece_url = deposit_a10(page, number, "2 400,00")
    expect(page.locator("#piece-status")).to_contain_text("Échéances")

    # Durand stays silent. The sweep runs as `flask deadlines sweep --now ...` would, one minute after the
    # 15 days of this piece's validation clock.
    with app.app_context():
        from chorus_chain.access import system_access

        with system_access("e2e: read the clock of the test's piece"):
            piece = db.session.scalar(select(Piece).where(Piece.number == number))
            due_at = db.session.scalar(select(Deadline.due_at).where(
                Deadline.piece_id == piece.id, Deadline.kind == "validation_1", Deadline.done_at.is_(None)))
        assert due_at is not None
        result = sweep(due_at + timedelta(minutes=1))
        db.session.commit()
        assert result["applied"] >= 1

    page.goto(piece_url)
    expect(page.locator("#piece-timeline")).to_contain_text("Validée tacitement (donneur d'ordre silencieux)")
    expect(page.locator("#piece-timeline")).to_contain_text("La plateforme")
    expect(status_of(page)).to_contain_text("Chez le maître d'œuvre")
    screenshot(page, "tacit-leroy")


def test_a_refusal_with_its_reason_reaches_the_depositor(page):
    number = fresh_number("PL-R")
    enter(page, "leroy")
    piece_url = deposit_a10(page, number, "1 200,00")

    enter(page, "durand")
    open_from_a_traiter(page, number)
    act(page, "Refuser", fields={"Motif": "Prestation ou travaux non réalisés",
                                 "Commentaire": "Cloisons du R+1 non terminées au 30 du mois."})
    expect(status_of(page)).to_contain_text("Refusée par le donneur d'ordre")

    enter(page, "leroy")
    page.goto(piece_url)
    expect(status_of(page)).to_contain_text("Refusée par le donneur d'ordre")
    timeline = page.locator("#piece-timeline")
    expect(timeline).to_contain_text("Motif : Prestation ou travaux non réalisés")
    expect(timeline).to_contain_text("Cloisons du R+1 non terminées au 30 du mois.")
    expect(page.get_by_role("link", name="Émettre une nouvelle pièce (nouveau numéro)")).to_be_visible()
    screenshot(page, "refusal-leroy")
