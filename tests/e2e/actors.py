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

from tests.e2e.conftest import ARTIFACTS, answered, login

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
    # One structure: the login lands on its Synthèse; several: the list of structures, then a click.
    if not re.search(r"/s/\d{14}/", page.url):
        page.get_by_role("link", name=STRUCTURES[who], exact=True).click()
    page.wait_for_url(re.compile(r"/s/\d{14}/"))
    page.wait_for_load_state("networkidle")
    return re.search(r"/s/\d{14}", page.url).group(0)


def menu(page: Page):
    """The structure's menu; on a phone it is folded behind « Menu »: unfold it first."""
    nav = page.get_by_role("navigation", name="Structure")
    button = page.get_by_test_id("menu-button")
    if not nav.is_visible() and button.is_visible():
        button.click()
        expect(nav).to_be_visible()
    return nav


def go_to_pieces(page: Page) -> None:
    """The structure's menu › Pièces (the À traiter list). Links are boosted (HTMX): wait for the new page, so that
    the next click does not land on the page being replaced."""
    menu(page).get_by_role("link", name="Pièces").click()
    page.wait_for_url(re.compile(r"/s/\d{14}/pieces/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Pièces de facturation")


def french_number(text: str) -> Decimal:
    """ "4 622,40 €" → Decimal("4622.40")."""
    return Decimal(re.sub(r"[\s\u00a0\u202f€]", "", text).replace(",", ".") or "0")


def confirm(page: Page, button) -> None:
    """Click an irreversible action's button and confirm in the dialog that says what cannot be undone."""
    button.click()
    dialog = page.locator("dialog.confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator(".confirm-text")).not_to_be_empty()
    dialog.get_by_role("button", name="Confirmer").click()


def start_decompte(page: Page, number: str, month: str | None = None, cadre: str = "A10") -> str:
    """As a company of the marché: Pièces › Déposer › projet de décompte mensuel (A10 for a sous-traitant, A4 for the
    mandataire…) on the demo marché: the month (the default one, after its last décompte, unless given), the number
    and the PDF — no amount. Returns the month."""
    go_to_pieces(page)
    page.locator("main .page-head").get_by_role("link", name="Déposer une pièce").click()
    page.wait_for_url(re.compile(r"/pieces/nouvelle"))
    choices = page.locator("#deposit-choices")
    expect(choices).to_contain_text(f"Sur le marché {DEMO}")
    choices.locator("li.choice", has_text=cadre).get_by_role("link", name="Saisir le décompte").click()
    page.wait_for_url(re.compile(r"/projet-de-decompte"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(cadre)
    month_field = page.get_by_label("Mois des travaux")
    if month is not None:
        month_field.fill(month)
    month = month_field.input_value()
    page.get_by_label("Numéro de la pièce").fill(number)
    page.get_by_label("Document principal (PDF, facultatif maintenant)").set_input_files(
        files=[{"name": f"{number}.pdf", "mimeType": "application/pdf", "buffer": PDF + number.encode()}])
    page.get_by_role("button", name="Saisir le décompte").click()
    page.wait_for_url(re.compile(r"/decompte$"))
    expect(page.locator("#messages")).to_contain_text(f"Projet de décompte n° {number} commencé")
    return month


def add_to_line(page: Page, line: str, more: Decimal) -> None:
    """On the décompte page: `more` units above the cumul shown on line `line`, typed as a person would; wait for
    the amounts to follow."""
    cumul = page.get_by_label(f"Cumul à ce jour, ligne {line}")
    with answered(page, "/decompte", body="intent=preview"):
        cumul.fill(str(french_number(cumul.input_value()) + more).replace(".", ","))


def send_from_decompte(page: Page, number: str) -> str:
    """« Envoyer la pièce » on the décompte, confirmed; returns the piece page's URL."""
    # The live server runs its jobs in the request (no Redis): the send's answer comes once they are done. A preview
    # of the last figure typed may still be on its way to the same URL: the send is the request that says so.
    with answered(page, "/decompte", body="intent=send"):
        confirm(page, page.locator("#send-panel").get_by_role("button", name="Envoyer la pièce"))
    expect(page).to_have_url(re.compile(r"/pieces/\d+$"))
    expect(page.locator("#messages")).to_contain_text(f"Le projet de décompte n° {number} est envoyé")
    return page.url


def deposit_a10(page: Page, number: str, ht: str) -> str:
    """As a sous-traitant (Plâtrerie Leroy), a projet de décompte of `ht` € HT: its décompte started for the next
    month, PL-01 (cloisons, 30,00 € / m²) raised by ht / 30 m², sent. Returns the piece page's URL."""
    start_decompte(page, number)
    add_to_line(page, "PL-01", french_number(ht) / Decimal("30"))
    expect(page.locator("#totals")).to_contain_text(ht)
    return send_from_decompte(page, number)


def deposit_a10_with_decompte(page: Page, number: str, month: str | None, line: str, more: Decimal) -> str:
    """As a sous-traitant, the monthly way: a projet de décompte (A10) started from its month, its décompte entered
    line by line against the marché's bordereau (cumul to date on line `line`, `more` units above last month's; the
    amount follows), then sent from the décompte. Returns the piece page's URL."""
    start_decompte(page, number, month)
    add_to_line(page, line, more)
    return send_from_decompte(page, number)


def issue_etat_acompte(page: Page, month: str, number: str, index_value: str) -> dict[str, Decimal]:
    """As the maître d'œuvre: Marchés › the demo marché › États d'acompte; enter the month's provisional BT01 index,
    open the état of `month` (the projets de décompte it took that month are in it, piece `number` among them),
    then issue it. Returns what the issued état pays each beneficiary this time ("À payer pour cet acompte")."""
    menu(page).get_by_role("link", name="Marchés").click()
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
    with answered(page, "/emettre"):  # the état's PDF is rendered before the answer (no Redis)
        confirm(page, page.get_by_role("button", name=re.compile(r"^Émettre l'état d'acompte n° \d+")))
    expect(page.locator("#messages")).to_contain_text("émis : il part au maître d'ouvrage comme une pièce (A15)")
    payables = page.locator("section[aria-labelledby=payables-title] tbody tr")
    return {row.locator("td").nth(0).inner_text().strip(): french_number(row.locator("td").nth(2).inner_text())
            for row in payables.all()}


def open_synthese(page: Page) -> None:
    """The structure's menu › Synthèse (what waits on the structure, with the actions inline). Not clicked again
    when already there: a second boosted load could land after an inline action and show the list as it was."""
    if not re.search(r"/synthese$", page.url):
        menu(page).get_by_role("link", name="Synthèse").click()
        page.wait_for_url(re.compile(r"/synthese$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Synthèse")
    page.wait_for_load_state("networkidle")


def open_tableau_de_bord(page: Page) -> None:
    menu(page).get_by_role("link", name="Tableau de bord").click()
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
    with answered(page, "/synthese/") as answer:
        if fields is None:
            button = item.get_by_role("button", name=label, exact=True)
        else:
            form = item.locator("form.action-form", has=page.locator("summary", has_text=label))
            if not form.locator("details").evaluate("details => details.open"):
                form.locator("summary").click()
            _fill(form, fields)
            button = form.get_by_role("button", name=re.compile(r"^Confirmer"))
        if button.get_attribute("data-confirm"):  # an irreversible action: the dialog says what cannot be undone
            confirm(page, button)
        else:
            button.click()
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
