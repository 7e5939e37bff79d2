"""The whole billing chain of the demo marché in a real browser, one person after the other, each through the pages
they use: a sous-traitant deposits its projet de décompte, its contractor validates it from its Synthèse, the maître
d'œuvre takes it and issues the état d'acompte, the maître d'ouvrage validates, its paying office records service
fait, mandat and payment, and the sous-traitant's tracker (Tableau de bord) shows it paid.

Also: a tacit validation after the contractor's 15 days of silence (the deadline sweep run in-process against the
live server's database with a `now` past the deadline, as `flask deadlines sweep --now` does), and a refusal with its
reason, read by the depositor. Screenshots of what each person sees are saved in tests/artifacts/.
"""
from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

from playwright.sync_api import expect
from sqlalchemy import select

from chorus_chain.formatting import money
from tests.e2e.actors import (
    act_in_synthese,
    add_to_line,
    confirm,
    deposit_a10,
    enter,
    french_number,
    fresh_number,
    issue_etat_acompte,
    open_synthese,
    open_tableau_de_bord,
    screenshot_part,
    send_from_decompte,
    start_decompte,
    status_of,
    work_item,
)
from tests.e2e.conftest import answered, screenshot

# A clock of 15 days started seconds ago reads "dans 15 jours" (calendar days to its day, never an earlier one).
FIFTEEN_DAYS_LEFT = re.compile(r"validation tacite dans 15 jours")


def _tracker(page, number: str):
    """The sous-traitant's tracker of piece `number` (Tableau de bord › où en est votre argent)."""
    return page.locator("[data-testid=tracker]", has=page.get_by_role("link", name=number, exact=True))


def _milestone(tracker, key: str):
    return tracker.locator(f"li[data-step={key}]")


def test_a_projet_de_decompte_from_deposit_to_payment(page):
    number = fresh_number("PL-J")

    # The sous-traitant (Plâtrerie Leroy, rang 1 under Durand, paiement direct, autoliquidation) starts its monthly
    # projet de décompte from its décompte — the month offered is the one after its last décompte — enters it
    # against the bordereau — 160 m² more of cloisons at 30,00 € = 4 800,00 € HT, the amounts following as it
    # types — and sends it, confirming; its tracker says whom it waits on.
    enter(page, "leroy")
    month = start_decompte(page, number)
    add_to_line(page, "PL-01", Decimal("160"))
    expect(page.locator("#totals")).to_contain_text("4 800,00")
    screenshot(page, "decompte-leroy")
    piece_url = send_from_decompte(page, number)
    expect(status_of(page)).to_contain_text("À valider par le donneur d'ordre")
    expect(page.locator("#piece-amounts")).to_contain_text("4 800,00")
    open_tableau_de_bord(page)
    tracker = _tracker(page, number)
    expect(_milestone(tracker, "deposit")).to_have_class("done")
    expect(_milestone(tracker, "paid")).to_contain_text("pas encore")
    expect(tracker).to_contain_text("Durand Bâtiment SAS")
    screenshot(page, "tableau-de-bord-leroy")

    # Its contractor, the mandataire Durand, finds it on its Synthèse with its 15-day clock and validates it there.
    enter(page, "durand")
    open_synthese(page)
    item = work_item(page, number)
    expect(item).to_contain_text("À valider par le donneur d'ordre")
    expect(item).to_contain_text("de Plâtrerie Leroy")
    expect(item).to_contain_text(FIFTEEN_DAYS_LEFT)
    screenshot(page, "synthese-durand")
    screenshot_part(page, "readme-synthese", page.locator("main .page-head"), item)
    act_in_synthese(page, number, "Valider")
    expect(work_item(page, number)).to_have_count(0)  # no longer waits on Durand

    # The maître d'œuvre takes it into account from its Synthèse, then builds the month's état d'acompte from the
    # projets it took and issues it: the piece goes on to the maître d'ouvrage with what Leroy is due.
    enter(page, "moe")
    open_synthese(page)
    expect(work_item(page, number)).to_contain_text("Chez le maître d'œuvre")
    act_in_synthese(page, number, "Prendre en compte")
    expect(work_item(page, number)).to_contain_text("Prise en compte par le maître d'œuvre")
    screenshot(page, "synthese-moe")
    payables = issue_etat_acompte(page, month, number, index_value="133,9")
    etat_id = re.search(r"/etats/(\d+)", page.url).group(1)
    # Revised (BT01), less the retenue de garantie and the advance's repayment: what Leroy is paid this month.
    due = payables["Plâtrerie Leroy"]
    assert Decimal("0") < due < Decimal("4800.00") * Decimal("1.1")
    screenshot(page, "etat-acompte-moe")
    screenshot_part(page, "readme-etat-acompte", page.locator("main h1"),
                    page.locator("section[aria-labelledby=payables-title]"))
    open_synthese(page)
    expect(work_item(page, number)).to_have_count(0)

    # The maître d'ouvrage validates the état as one document (issue 12): its Synthèse opens it; its financial
    # service (the same commune) then pays each company's line: service fait, mandat, payment (amount and day
    # prefilled with what is left).
    enter(page, "mairie")
    open_synthese(page)
    screenshot(page, "synthese-mairie")
    page.locator(f"[data-testid=work-etat] a[href$='/etats/{etat_id}']").first.click()
    page.wait_for_url(re.compile(rf"/etats/{etat_id}$"))
    screenshot(page, "etat-a-valider-mairie")
    with answered(page, f"/etats/{etat_id}/valider"):  # the A19's PDF is rendered before the answer (no Redis)
        confirm(page, page.get_by_test_id("validate-etat"))
    expect(page.locator("#messages")).to_contain_text("validé : l'état validé (A19) part au service financier")
    steps = "[data-testid=line-service-fait], [data-testid=line-mandat], [data-testid=line-pay]"
    for _ in range(45):  # every line: three steps each, each confirmed, one page load per step
        button = page.locator(steps).first
        if page.locator(steps).count() == 0:
            break
        row = button.locator("xpath=ancestor::tr[@data-testid='payable-line']").get_attribute("id")
        step = button.get_attribute("data-testid")
        with answered(page, "/lignes-a-payer/"):
            confirm(page, button)
        # The page the answer leads to shows that line past that step (never the page it replaced).
        expect(page.locator(f"#{row} [data-testid={step}]")).to_have_count(0)
        expect(page.locator("main .message-error")).to_have_count(0)
    expect(page.locator("[data-testid=payable-line][data-state=paid]")).not_to_have_count(0)
    expect(page.locator("[data-testid=payable-line]:not([data-state=paid]):not([data-state=nothing_due])")) \
        .to_have_count(0)
    screenshot(page, "etat-lignes-payees-mairie")
    open_tableau_de_bord(page)
    screenshot(page, "tableau-de-bord-mairie")

    # The sous-traitant's tracker shows every milestone passed, paid, with the amount.
    enter(page, "leroy")
    open_tableau_de_bord(page)
    tracker = _tracker(page, number)
    for key in ("deposit", "validated", "taken", "etat", "moa", "paid"):
        expect(_milestone(tracker, key)).to_have_class("done")
    expect(_milestone(tracker, "paid")).to_contain_text("payée le")
    expect(_milestone(tracker, "paid")).to_contain_text(money(due))  # printed as the pages print money
    expect(tracker).to_contain_text("Mise en paiement")
    expect(tracker.get_by_test_id("tracker-etat")).to_contain_text("payée le")
    screenshot(page, "tableau-de-bord-leroy-payee")
    screenshot_part(page, "readme-suivi-paiement", page.locator("#panel-st-title"), tracker)
    page.goto(piece_url)
    expect(status_of(page)).to_contain_text("Mise en paiement")
    expect(page.locator("#piece-status")).to_contain_text("Rien à faire")


def test_tacit_validation_after_the_contractors_silence(page, live_server):
    from chorus_chain.access import system_access
    from chorus_chain.extensions import db
    from chorus_chain.models import Deadline, Piece
    from chorus_chain.operations.deadlines import sweep

    _base, app = live_server
    number = fresh_number("PL-T")
    enter(page, "leroy")
    piece_url = deposit_a10(page, number, "2 400,00")
    expect(page.locator("#piece-status")).to_contain_text(FIFTEEN_DAYS_LEFT)

    # Durand stays silent. The sweep runs as `flask deadlines sweep --now …` would, one minute after the end of
    # this piece's 15-day validation clock (every clock due by then is applied, as in production).
    with app.app_context():
        with system_access("e2e: read the clock of the test's piece"):
            piece_id = db.session.scalar(select(Piece.id).where(Piece.number == number))
            due_at = db.session.scalar(select(Deadline.due_at).where(
                Deadline.piece_id == piece_id, Deadline.kind == "validation_1", Deadline.done_at.is_(None)))
        assert due_at is not None
        result = sweep(due_at + timedelta(minutes=1))
        db.session.commit()
        assert result["applied"] >= 1

    page.goto(piece_url)
    timeline = page.locator("#piece-timeline")
    expect(timeline).to_contain_text("Validée tacitement (donneur d'ordre silencieux)")
    expect(timeline).to_contain_text("La plateforme")
    expect(status_of(page)).to_contain_text("Chez le maître d'œuvre")

    # The attestation of tacit acceptance is offered, prepared, and downloads as a PDF.
    documents = page.locator("#piece-documents")
    with answered(page, "/documents/"):  # rendered before the answer (no Redis), or polled until done
        documents.get_by_role("button", name="Attestation d'acceptation tacite").click()
    link = documents.get_by_role("link", name=f"Télécharger attestation-acceptation-tacite-{number}.pdf")
    expect(link).to_be_visible()
    with page.expect_download() as download:
        link.click()
    with open(download.value.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"
    screenshot(page, "tacite-leroy")

    # The sous-traitant's tracker says "tacitement"; Durand's Tableau de bord lists it among its tacit validations.
    open_tableau_de_bord(page)
    expect(_milestone(_tracker(page, number), "validated")).to_contain_text("(tacitement)")
    enter(page, "durand")
    open_tableau_de_bord(page)
    expect(page.locator("[data-testid=tacit-list]")).to_contain_text(number)


def test_a_refusal_with_its_reason_reaches_the_depositor(page):
    number = fresh_number("PL-R")
    enter(page, "leroy")
    piece_url = deposit_a10(page, number, "1 200,00")

    # Durand refuses from its Synthèse: a reason from the list, and a comment.
    enter(page, "durand")
    open_synthese(page)
    act_in_synthese(page, number, "Refuser", fields={
        "Motif": "Prestation ou travaux non réalisés",
        "Commentaire": "Cloisons du R+1 non terminées au 30 du mois."})
    expect(page.locator("[data-testid=work-notice]")).to_contain_text("Refusée par le donneur d'ordre")
    expect(work_item(page, number)).to_have_count(0)

    # Plâtrerie Leroy reads why, and is offered to start again under a new number.
    enter(page, "leroy")
    page.goto(piece_url)
    expect(status_of(page)).to_contain_text("Refusée par le donneur d'ordre")
    timeline = page.locator("#piece-timeline")
    expect(timeline).to_contain_text("Motif : Prestation ou travaux non réalisés")
    expect(timeline).to_contain_text("« Cloisons du R+1 non terminées au 30 du mois. »")
    expect(page.get_by_role("link", name="Émettre une nouvelle pièce (nouveau numéro)")).to_be_visible()
    screenshot(page, "refus-leroy")
