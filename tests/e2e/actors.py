"""What the people of the demo marché do in the browser, step by step, through the pages as a user sees them: log in
and pick their company, deposit a piece (with or without its décompte), act from the Synthèse, issue the month's
état d'acompte, read the Tableau de bord.

Each helper asserts what the page answers (the flash or the inline notice), so a journey that breaks says at which
step and for whom. Numbers of pieces are made unique per call (`fresh_number`): the demo database is shared by the
whole session, and a number is never reused by its emitter.
"""
from __future__ import annotations

import itertools
import re
import time
from decimal import Decimal

from playwright.sync_api import Page, expect

from tests.e2e.conftest import ARTIFACTS, login

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


def french_number(text: str) -> Decimal:
    """ "4 622,40 €" → Decimal("4622.40")."""
    return Decimal(re.sub(r"[\s\u00a0\u202f€]", "", text).replace(",", ".") or "0")


def deposit_a10_with_decompte(page: Page, number: str, month: str, line: str, more: Decimal) -> str:
    """As a sous-traitant, the real monthly way: a draft of projet de décompte (A10), its décompte entered line by
    line against the marché's bordereau (cumul to date on line `line`, `more` units above last month's; the amount
    is computed and carried onto the draft), then sent from the draft page. Returns the piece page's URL."""
    go_to_pieces(page)
    page.locator("main .page-head").get_by_role("link", name="Déposer une pièce").click()
    page.wait_for_url(re.compile(r"/pieces/nouvelle"))
    page.locator("#deposit-choices li.choice", has_text="A10").get_by_role("link", name="Préparer cette pièce").click()
    form = page.locator("form.draft-form")
    form.get_by_label("Numéro de la pièce").fill(number)
    # The draft form wants amounts before the décompte exists: 0,00 for now, the décompte replaces them.
    form.get_by_label("Montant HT (€)").fill("0,00")
    form.get_by_label("Montant TTC (€)").fill("0,00")
    form.get_by_label("Document principal (PDF)").set_input_files(
        files=[{"name": f"{number}.pdf", "mimeType": "application/pdf", "buffer": PDF + number.encode()}])
    form.get_by_role("button", name="Enregistrer le brouillon").click()
    expect(page.locator("#messages")).to_contain_text(f"Brouillon n° {number} enregistré")
    draft_url = page.url

    page.locator("#decompte").get_by_role("link", name="Saisir le décompte").click()
    page.wait_for_url(re.compile(r"/decompte$"))
    sheet = page.locator("#decompte form")
    sheet.get_by_label("Mois des travaux").fill(month)
    cumul = sheet.get_by_label(f"Cumul à ce jour, ligne {line}")
    # Leaving the field recomputes the sheet (an HTMX preview that replaces the form): wait for it before saving.
    with page.expect_response(lambda r: r.url.endswith("/decompte") and r.request.method == "POST"):
        cumul.fill(str(french_number(cumul.input_value()) + more).replace(".", ","))
        cumul.press("Tab")
    page.locator("#decompte form").get_by_role("button", name="Enregistrer le décompte").click()
    expect(page.locator("#decompte .message-success")).to_contain_text("Décompte enregistré")

    page.goto(draft_url)
    expect(page.locator(".preflight")).to_contain_text("tout est en ordre")
    page.get_by_role("button", name="Envoyer la pièce").click()
    expect(page.locator("#messages")).to_contain_text(f"La pièce n° {number} est envoyée")
    return page.url


def issue_etat_acompte(page: Page, month: str, number: str, index_value: str) -> dict[str, Decimal]:
    """As the maître d'œuvre: Marchés › the demo marché › États d'acompte; enter the month's provisional BT01 index,
    open the état of `month` (the projets de décompte it took that month are in it, piece `number` among them),
    then issue it. Returns what the issued état pays each beneficiary this time ("À payer pour cet acompte")."""
    page.get_by_role("navigation", name="Structure").get_by_role("link", name="Marchés").click()
    page.wait_for_url(re.compile(r"/marches/$"))
    page.get_by_role("link", name=DEMO).first.click()
    page.wait_for_url(re.compile(r"/marches/\d+$"))
    page.get_by_role("link", name="États d'acompte").click()
    page.wait_for_url(re.compile(r"/etats/$"))
    # The month's BT01 is not published yet: the MOE enters a provisional value (the next état corrects it).
    page.get_by_role("link", name="Indice BT01").click()
    page.wait_for_url(re.compile(r"/etats/indices$"))
    page.get_by_label("Mois", exact=True).fill(month)
    page.get_by_label("Valeur de l'indice").fill(index_value)
    page.get_by_role("button", name="Enregistrer la valeur").click()
    expect(page.locator("#messages")).to_contain_text(f"Indice BT01 de {month} enregistré (provisoire)")
    page.get_by_role("link", name=re.compile(r"États d'acompte du marché")).click()
    page.wait_for_url(re.compile(r"/etats/$"))
    page.get_by_label("Mois des travaux").fill(month)
    page.get_by_role("button", name="Ouvrir l'état d'acompte (brouillon)").click()
    page.wait_for_url(re.compile(r"/etats/\d+$"))
    expect(page.locator("main")).to_contain_text(number)
    refusals = page.locator("main .message-error").all_inner_texts()  # e.g. "Calcul impossible : …"
    assert not refusals, refusals
    page.get_by_role("button", name=re.compile(r"^Émettre l'état d'acompte n° \d+")).click()
    expect(page.locator("#messages")).to_contain_text("émis : il part au maître d'ouvrage comme une pièce (A15)")
    payables = page.locator("section[aria-labelledby=payables-title] tbody tr")
    return {row.locator("td").nth(0).inner_text().strip(): french_number(row.locator("td").nth(2).inner_text())
            for row in payables.all()}


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


def screenshot_part(page: Page, name: str, first, last=None, margin: int = 16):
    """A picture of part of the page, full width, from the top of `first` to the bottom of `last` (or of `first`):
    the README's illustrations, cut to what they show."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    top = first.bounding_box()
    bottom = (last or first).bounding_box()
    width = page.viewport_size["width"]
    y = max(top["y"] - margin, 0)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True,
                    clip={"x": 0, "y": y, "width": width, "height": bottom["y"] + bottom["height"] + margin - y})
    return path


def status_of(page: Page):
    return page.locator("#piece-status .status-line")
