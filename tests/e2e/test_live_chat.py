"""The assistant and the live chat in the browser (Chromium): a user of the demo asks the assistant from a piece's
page, hands over to an agent, keeps the conversation while moving to another page; an operator, in another browser
context, finds the conversation in the console with the page, structure and piece, takes it and answers; the user
sees the answer without reloading, and the operator sees the user's reply likewise (server-sent events); markup typed
in a message shows as text on both sides; the transcript survives a reload on both sides. Screenshots at 1366 px and
390 px in tests/artifacts/."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.actors import enter
from tests.e2e.conftest import login, screenshot

OPERATOR_EMAIL = "agent.e2e@chorus-chain.fr"
OPERATOR_PASSWORD = "operateur-e2e-2026"
MARKUP = '<b>gras</b><script>window.hacked=1</script>'


@pytest.fixture
def operator_account(live_server):
    from sqlalchemy import select

    from chorus_chain.extensions import db
    from chorus_chain.models import Account
    from chorus_chain.models.base import utcnow

    _, app = live_server
    app.config["CHAT_HOURS"] = "toujours"  # the agents are there (whatever day the suite runs)
    with app.app_context():
        if db.session.scalar(select(Account).where(Account.email == OPERATOR_EMAIL)) is None:
            account = Account(email=OPERATOR_EMAIL, first_name="Agnès", last_name="Support", is_operator=True,
                              activated_at=utcnow())
            account.set_password(OPERATOR_PASSWORD)
            db.session.add(account)
            db.session.commit()
    yield OPERATOR_EMAIL
    app.config["CHAT_HOURS"] = "lun-ven 09:00-18:00"


def _context(browser, live_server, width):
    context = browser.new_context(base_url=live_server[0], locale="fr-FR",
                                  viewport={"width": width, "height": 900 if width > 500 else 844})
    page = context.new_page()
    page.set_default_timeout(15_000)
    return context, page


def _open_panel(page):
    panel = page.get_by_test_id("assistant")
    if not page.locator("details[data-assistant][open]").count():
        panel.get_by_test_id("assistant-toggle").click()
    expect(panel.get_by_test_id("assistant-question")).to_be_visible()
    return panel


def _send(panel, text):
    box = panel.get_by_test_id("assistant-question")
    box.fill(text)
    panel.get_by_test_id("assistant-send").click()


def test_live_chat_user_and_operator(browser, live_server, operator_account):
    user_context, user = _context(browser, live_server, 1366)
    operator_context, operator = _context(browser, live_server, 1366)
    try:
        prefix = enter(user, "leroy")
        # From the piece's page: the assistant knows where the piece is and who must act.
        user.goto(f"{prefix}/pieces/emises")
        user.get_by_role("link", name="PL-2026-002").first.click()
        user.wait_for_url(re.compile(r"/pieces/\d+$"))
        piece_path = re.search(r"/s/\d{14}/pieces/\d+", user.url).group(0)
        panel = _open_panel(user)
        _send(panel, "ou en est ma facture pl 2026 002 ?")
        log = panel.get_by_test_id("chat-log")
        expect(log).to_contain_text("PL-2026-002")
        expect(log).to_contain_text("Durand Bâtiment SAS")
        screenshot(user, "chat-1-assistant-answers-1366")

        # One click: to an agent. Then the user moves to another page; the conversation stays.
        panel.get_by_test_id("assistant-agent").click()
        expect(panel.get_by_test_id("chat-status")).to_contain_text("En attente d'un agent")
        user.get_by_test_id("nav-synthese").click()
        user.wait_for_url(re.compile(r"/synthese"))
        panel = user.get_by_test_id("assistant")
        expect(panel.get_by_test_id("chat-log")).to_contain_text("ou en est ma facture pl 2026 002 ?")

        # The operator, in another browser: the console lists it with the page, the structure and the piece.
        operator.goto("/connexion")
        operator.get_by_label("Adresse e-mail").fill(OPERATOR_EMAIL)
        operator.get_by_label("Mot de passe").fill(OPERATOR_PASSWORD)
        operator.get_by_role("button", name="Se connecter").click()
        operator.goto("/operateur/conversations")
        row = operator.get_by_test_id("chat-queue").locator("tr", has_text="Plâtrerie Leroy").first
        expect(row).to_contain_text("PL-2026-002")
        # The kind of page in French, its exact address on hover (the operator reads no tenant's rows: no name, no
        # link to the piece).
        expect(row).to_contain_text("Page d'une pièce")
        expect(row.locator(f'span[title="{piece_path}"]')).to_have_count(1)
        screenshot(operator, "chat-2-operator-queue-1366")
        row.get_by_role("link").first.click()
        expect(operator.get_by_test_id("chat-log")).to_contain_text("ou en est ma facture pl 2026 002 ?")
        operator.get_by_test_id("chat-take").click()
        expect(operator.get_by_test_id("chat-taker")).to_contain_text("Agnès")
        operator.get_by_test_id("chat-reply").fill("Bonjour, je regarde votre projet de décompte.")
        operator.get_by_test_id("chat-send").click()

        # The user sees the agent's answer without reloading.
        user_log = user.get_by_test_id("assistant").get_by_test_id("chat-log")
        expect(user_log).to_contain_text("Bonjour, je regarde votre projet de décompte.")
        expect(user_log).to_contain_text("a rejoint la conversation")
        # The user answers, with markup: the operator sees it as it is sent, as text.
        _send(user.get_by_test_id("assistant"), MARKUP)
        operator_log = operator.get_by_test_id("chat-log")
        expect(operator_log).to_contain_text(MARKUP)
        expect(user_log).to_contain_text(MARKUP)
        assert user.evaluate("window.hacked") is None and operator.evaluate("window.hacked") is None
        assert operator_log.locator("b").count() == 0 and user_log.locator("b").count() == 0
        screenshot(user, "chat-3-user-sees-agent-1366")
        screenshot(operator, "chat-4-operator-sees-user-1366")

        # A reload loses nothing, on either side.
        user.reload()
        user_log = _open_panel(user).get_by_test_id("chat-log")
        expect(user_log).to_contain_text("Bonjour, je regarde votre projet de décompte.")
        expect(user_log).to_contain_text(MARKUP)
        operator.reload()
        expect(operator.get_by_test_id("chat-log")).to_contain_text(MARKUP)
        expect(operator.get_by_test_id("chat-log")).to_contain_text("ou en est ma facture pl 2026 002 ?")
        # And the stream still works after the reload.
        operator.get_by_test_id("chat-reply").fill("C'est réglé : le mandataire l'a validée.")
        operator.get_by_test_id("chat-send").click()
        expect(user_log).to_contain_text("C'est réglé : le mandataire l'a validée.")
    finally:
        user_context.close()
        operator_context.close()


def test_assistant_panel_on_a_phone(browser, live_server):
    context, page = _context(browser, live_server, 390)
    try:
        enter(page, "durand")
        panel = _open_panel(page)
        _send(panel, "qui doit traiter ma DB-2026-004 ?")
        expect(panel.get_by_test_id("chat-log")).to_contain_text("Atelier Lumen Architectes")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways ({width} px)"
        screenshot(page, "chat-5-assistant-phone-390")
    finally:
        context.close()
