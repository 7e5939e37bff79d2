"""What the people of the demo marché do in the browser, step by step, through the pages as a user sees them: log in
and pick their company, deposit a piece, open it from their lists, click an action of the piece page.

Each helper asserts what the page answers (the flash or the inline notice), so a journey that breaks says at which
step and for whom. Numbers of pieces are made unique per call (`fresh_number`): the demo database is shared by the
whole session, and a number is never reused by its emitter.
"""
from __future__ import annotations

import itertools
import re
import time

from playwright.sync_api import Page, expect

from tests.e2e.conftest import login

DEMO = "DEMO-TRAVAUX-2026"
EMAILS = {
    "mairie": "mairie@demo.chorus-chain.fr",
    "moe": "moe@demo.chorus-chain.fr",
    "durand": "durand@demo.chorus-chain.fr",
    "martin": "martin@demo.chorus-chain.fr",
    "leroy": "leroy@demo.chorus-chain.fr",
    "bernard": "bernard@demo.chorus-chain.fr",
    "petit": "petit@demo.chorus-chain.fr",
}
STRUCTURES = {
    "mairie": "Commune de Montreuil-sur-Loire",
    "moe": "Atelier Lumen Architectes",
    "durand": "Durand Bâtiment SAS",
    "martin": "Martin Électricité SARL",
    "leroy": "Plâtrerie Leroy",
    "bernard": "Menuiserie Bernard",
    "petit": "Peinture Petit & Fils",
}
PDF = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
       b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")

_counter = itertools.count(1)


def fresh_number(prefix: str) -> str:
    """A piece number no earlier test (nor an earlier run on a reused database) has taken: ≤ 20 characters."""
    return f"{prefix}-{int(time.time()) % 100000:05d}{next(_counter):02d}"


def enter(page: Page, who: str) -> str:
    """Log in as `who` and open their company; returns the tenant prefix `/s/<siret>`."""
    page.context.clear_cookies()
    login(page, EMAILS[who])
    page.get_by_role("link", name=STRUCTURES[who], exact=True).click()
    page.wait_for_url(re.compile(r"/s/\d{14}/"))
    page.wait_for_load_state("networkidle")
    return re.search(r"/s/\d{14}", page.url).group(0)


def go_to_pieces(page: Page) -> None:
    """The structure's menu › Pièces (the À traiter list). Links are boosted (HTMX): wait for the new page, so that
    the next click does not land on the page being replaced."""
    page.get_by_role("navigation", name="Structure").get_by_role("link", name="Pièces").click()
    page.wait_for_url(re.compile(r"/s/\d{14}/pieces/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Pièces de facturation")


def deposit_a10(page: Page, number: str, ht: str) -> str:
    """As a sous-traitant: Pièces › Déposer › projet de décompte mensuel (A10) on the demo marché, under
    autoliquidation (no VAT), with its PDF; sends it and returns the piece page's URL."""
    go_to_pieces(page)
    page.locator("main .page-head").get_by_role("link", name="Déposer une pièce").click()
    page.wait_for_url(re.compile(r"/pieces/nouvelle"))
    choices = page.locator("#deposit-choices")
    expect(choices).to_contain_text(f"Sur le marché {DEMO}")
    choices.locator("li.choice", has_text="A10").get_by_role("link", name="Préparer cette pièce").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("A10")
    form = page.locator("form.draft-form")
    form.get_by_label("Numéro de la pièce").fill(number)
    form.get_by_label("Montant HT (€)").fill(ht)
    # A sous-traitant of works invoices under autoliquidation: the page fills VAT 0 and TTC = HT itself.
    expect(form.get_by_label("Régime de TVA")).to_have_value("autoliquidation")
    form.get_by_label("Montant TTC (€)").fill(ht)
    form.get_by_label("Document principal (PDF)").set_input_files(
        files=[{"name": f"{number}.pdf", "mimeType": "application/pdf", "buffer": PDF + number.encode()}])
    form.get_by_role("button", name="Envoyer la pièce").click()
    expect(page.locator("#messages")).to_contain_text(f"La pièce n° {number} est envoyée")
    return page.url


def open_from_a_traiter(page: Page, number: str) -> None:
    """Pièces › À traiter: the piece is listed there (it waits on this company); open it."""
    go_to_pieces(page)
    listing = page.locator("#pieces-list")
    listing.get_by_role("link", name=number, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(number)


def act(page: Page, label: str, *, fields: dict[str, str] | None = None, confirm: str | None = None) -> None:
    """Click an inline action of the piece page ("Valider", "Prendre en compte"...), filling its fields first when
    it has some, and wait for the panel's notice that it is done."""
    panel = page.locator("#piece-actions")
    if fields is None:
        panel.get_by_role("button", name=label, exact=True).click()
    else:
        form = panel.locator("form.action-form", has=page.locator("summary", has_text=label))
        form.locator("summary").click()
        _fill(form, fields)
        form.get_by_role("button", name=confirm or re.compile(r"^Confirmer")).click()
    expect(panel.locator(".message-success")).to_contain_text("C'est fait")


def open_synthese(page: Page) -> None:
    """The structure's menu › Synthèse (what waits on the structure, with the actions inline). Not clicked again
    when already there: a second boosted load could land after an inline action and show the list as it was."""
    if not re.search(r"/synthese$", page.url):
        page.get_by_role("navigation", name="Structure").get_by_role("link", name="Synthèse").click()
        page.wait_for_url(re.compile(r"/synthese$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Synthèse")
    page.wait_for_load_state("networkidle")


def open_tableau_de_bord(page: Page) -> None:
    page.get_by_role("navigation", name="Structure").get_by_role("link", name="Tableau de bord").click()
    page.wait_for_url(re.compile(r"/tableau-de-bord$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Tableau de bord")
    page.wait_for_load_state("networkidle")


def work_item(page: Page, number: str):
    """The Synthèse's row of piece `number`."""
    return page.locator("[data-testid=work-item]", has=page.get_by_role("link", name=number, exact=True))


def act_in_synthese(page: Page, number: str, label: str, *, fields: dict[str, str] | None = None) -> None:
    """Click the inline action `label` in the Synthèse row of piece `number` (opening its fields first when it has
    some) and wait for the list's answer: "Pièce n° … : « label » fait"."""
    item = work_item(page, number)
    expect(item).to_be_visible()
    with page.expect_response(lambda r: "/synthese/" in r.url and r.request.method == "POST") as answer:
        if fields is None:
            item.get_by_role("button", name=label, exact=True).click()
        else:
            form = item.locator("form.action-form", has=page.locator("summary", has_text=label))
            if not form.locator("details").evaluate("details => details.open"):
                form.locator("summary").click()
            _fill(form, fields)
            form.get_by_role("button", name=re.compile(r"^Confirmer")).click()
    assert answer.value.status == 200, f"{label} on {number}: HTTP {answer.value.status}"
    said = label[:1].lower() + label[1:]
    expect(page.locator("[data-testid=work-notice]")).to_contain_text(f"Pièce n° {number} : « {said} » fait")


def _fill(form, fields: dict[str, str]) -> None:
    for name, value in fields.items():
        # A label is named by its first words ("Commentaire" for "Commentaire (obligatoire pour …)").
        field = form.get_by_label(re.compile("^" + re.escape(name)))
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(label=value)
        else:
            field.fill(value)


def status_of(page: Page):
    return page.locator("#piece-status .status-line")
