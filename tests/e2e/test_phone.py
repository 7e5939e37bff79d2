"""A phone, 390 px wide (issue 15): a compact header with the menu folded, tables scrolling inside their own box,
never the page; the décompte's input column and the finance charts usable at that width.

Each page is checked with `document.documentElement.scrollWidth <= 390` (the page never scrolls sideways) and
photographed in tests/artifacts/phone-*.png: look at them after a change of layout.
"""
from __future__ import annotations

import re
from decimal import Decimal

from playwright.sync_api import expect

from tests.e2e.actors import DEMO, add_to_line, enter, fresh_number, menu, start_decompte
from tests.e2e.conftest import screenshot

WIDTH = 390


# What sticks out of the screen on the right, outside a box that scrolls sideways (a table's): cut off or pushing the
# page wider.
BEYOND = """() => {
  const width = document.documentElement.clientWidth, out = [];
  for (const e of document.querySelectorAll("main *")) {
    const r = e.getBoundingClientRect();
    if (r.width <= 1 || r.right <= width + 1) continue;
    const folded = e.closest("details:not([open])");  // the inside of a closed disclosure is not shown
    if (folded && !e.closest("summary")) continue;
    let p = e.parentElement, scrolls = false;
    for (; p && p !== document.body; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === "auto" || o === "scroll") { scrolls = true; break; }
    }
    if (!scrolls) out.push(`${e.tagName.toLowerCase()}.${e.className} « ${e.textContent.trim().slice(0, 30)} » ends at ${Math.round(r.right)}`);
  }
  return out.slice(0, 8);
}"""


def _fits(page, what: str) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= WIDTH, f"{what}: the page is {width} px wide at {WIDTH} px"
    beyond = page.evaluate(BEYOND)
    assert not beyond, f"{what}: " + "; ".join(beyond)


def _go(page, name: str) -> None:
    """The folded menu › `name`; the boosted page loaded."""
    menu(page).get_by_role("link", name=name, exact=True).click()
    expect(page.get_by_role("navigation", name="Structure")).to_be_hidden()  # folded again on the new page
    page.wait_for_load_state("networkidle")


def test_the_header_is_compact_and_the_menu_folded(phone):
    page = phone
    enter(page, "leroy")  # one structure: its Synthèse directly
    expect(page.get_by_role("heading", level=1)).to_contain_text("Synthèse")
    expect(page.get_by_role("navigation", name="Structure")).to_be_hidden()
    top = page.get_by_role("heading", level=1).bounding_box()["y"]
    assert top < 200, f"the content starts {top} px down"
    _fits(page, "Synthèse")
    screenshot(page, "phone-synthese")
    page.get_by_test_id("menu-button").click()
    expect(page.get_by_role("navigation", name="Structure")).to_be_visible()
    _fits(page, "Synthèse, menu open")
    screenshot(page, "phone-menu")


def test_the_tableau_de_bord_and_a_piece_never_scroll_sideways(phone):
    page = phone
    enter(page, "leroy")
    _go(page, "Tableau de bord")
    expect(page.get_by_role("heading", level=1)).to_have_text("Tableau de bord")
    _fits(page, "Tableau de bord")
    screenshot(page, "phone-tableau-de-bord")
    # Its list of pieces scrolls inside its own box: wider than the phone, but within the page.
    box = page.locator("table", has=page.get_by_role("link", name=re.compile(r"^PL-PDM-"))).first
    assert box.evaluate("t => t.scrollWidth > t.clientWidth && getComputedStyle(t).overflowX === 'auto'")
    page.locator("a", has_text=re.compile(r"^PL-PDM-")).first.click()
    page.wait_for_url(re.compile(r"/pieces/\d+$"))
    page.wait_for_load_state("networkidle")
    _fits(page, "a piece")
    screenshot(page, "phone-piece")


def test_the_finances_charts_fit_the_phone(phone):
    page = phone
    enter(page, "durand")
    _go(page, "Marchés")
    page.locator("main a", has_text=DEMO).first.click()
    page.wait_for_url(re.compile(r"/marches/\d+$"))
    page.get_by_role("link", name="Finances", exact=True).click()
    page.wait_for_url(re.compile(r"/marches/\d+/finances$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Où en est l'argent du marché")
    expect(page.locator("main svg").first).to_be_visible()
    _fits(page, "finances")
    right = page.evaluate("() => Math.max(...[...document.querySelectorAll('main svg')]"
                          ".map(s => s.getBoundingClientRect().right))")
    assert right <= WIDTH, f"a chart ends at {right} px"
    screenshot(page, "phone-finances")


def test_a_phone_enters_its_decompte(phone):
    page = phone
    enter(page, "leroy")
    start_decompte(page, fresh_number("PL-P"))
    _fits(page, "décompte")
    cumul = page.get_by_label("Cumul à ce jour, ligne PL-01")
    cumul.scroll_into_view_if_needed()
    box = cumul.bounding_box()
    assert box["width"] >= 60 and box["x"] >= 0 and box["x"] + box["width"] <= WIDTH, box
    assert cumul.is_editable()  # the input column is reachable and usable
    add_to_line(page, "PL-01", Decimal("10"))
    expect(page.locator("#totals")).to_contain_text("300,00")
    _fits(page, "décompte, computed")
    screenshot(page, "phone-decompte")


def test_every_page_of_the_menu_fits_for_each_kind_of_company(phone):
    """Beyond the five pages above: every entry of the menu of the MOA, the MOE, the mandataire and a
    sous-traitant."""
    page = phone
    for who in ("mairie", "moe", "durand", "leroy"):
        enter(page, who)
        names = [n.strip() for n in menu(page).get_by_role("link").all_inner_texts()]
        page.get_by_test_id("menu-button").click()  # fold it back
        for name in names:
            _go(page, re.sub(r"\s+\d+$", "", name))  # « Pièces 3 »: the count is no part of the name
            _fits(page, f"{who} › {name}")


# A table wider than the box it is given, at a laptop's width: it scrolls sideways inside its box, or spills out of
# the page's column. Either way a column of figures is out of sight.
TABLES_SPILL = """() => {
  const out = [];
  for (const t of document.querySelectorAll("main table")) {
    const r = t.getBoundingClientRect();
    if (r.width === 0 || t.closest("details:not([open])")) continue;
    const box = t.parentElement, column = t.closest(".card, section, main");
    const scrolls = box.scrollWidth > box.clientWidth + 1 && getComputedStyle(box).overflowX !== "visible";
    const spills = r.right > column.getBoundingClientRect().right + 1;
    if (scrolls || spills) out.push(`« ${(t.querySelector("th") || t).textContent.trim().slice(0, 20)} » `
      + `needs ${Math.round(t.scrollWidth)} px in ${Math.round(box.clientWidth)} px`);
  }
  return out;
}"""


def test_at_1366_px_no_table_hides_a_column(page):
    """The issue's other width: a laptop at 1366 px. The décompte of a projet de décompte sat in the left column of
    its page and scrolled (« Ce mois HT » cut off for the MOA about to validate); a long status pushed the list of
    pieces out of the page; the état's payable lines hid « Retard (intérêts + 40 €) ». The mandataire's lists, a
    projet de décompte with its lines, its état and the finances; the paying office's paid état."""
    page.set_viewport_size({"width": 1366, "height": 900})
    enter(page, "durand")
    for name in ("Synthèse", "Tableau de bord", "Pièces"):
        menu(page).get_by_role("link", name=name, exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_contain_text(name.split()[0] if name != "Pièces" else "Pièces")
        page.wait_for_load_state("networkidle")
        assert not page.evaluate(TABLES_SPILL), (name, page.evaluate(TABLES_SPILL))
    page.get_by_role("link", name="Émises").click()
    page.wait_for_load_state("networkidle")
    page.locator("main a", has_text=re.compile(r"^DB-PDM-03$")).click()
    page.wait_for_url(re.compile(r"/pieces/\d+$"))
    expect(page.locator("#piece-decompte")).to_be_visible()
    assert not page.evaluate(TABLES_SPILL), ("projet de décompte", page.evaluate(TABLES_SPILL))
    screenshot(page, "wide-projet-de-decompte")
    page.get_by_role("link", name="l'état d'acompte du maître d'œuvre").click()
    page.wait_for_url(re.compile(r"/etats/\d+$"))
    page.wait_for_load_state("networkidle")
    assert not page.evaluate(TABLES_SPILL), ("état d'acompte", page.evaluate(TABLES_SPILL))
    marche = re.sub(r"/etats/\d+$", "", page.url)
    page.goto(marche + "/finances")
    assert not page.evaluate(TABLES_SPILL), ("finances", page.evaluate(TABLES_SPILL))
    # The paying office's view of a paid état: nine columns, its payment form among them.
    enter(page, "mairie")
    page.goto(re.sub(r"/s/\d{14}", re.search(r"/s/\d{14}", page.url).group(0), marche) + "/etats/")
    page.get_by_role("link", name="n° 1", exact=True).click()
    page.wait_for_url(re.compile(r"/etats/\d+$"))
    expect(page.get_by_test_id("payable-lines")).to_be_visible()
    assert not page.evaluate(TABLES_SPILL), ("lignes à payer", page.evaluate(TABLES_SPILL))
    screenshot(page, "wide-lignes-a-payer")


# The Trésorerie's chart at 390 px (issue 19): the columns' drawing, 720 wide, shrank to half its size (labels of
# 5 px); on a phone the page shows the rows drawn 360 wide instead. Three sides of the demo: a sous-traitant in
# paiement direct, the titulaire (mandataire) and the commune (maître d'ouvrage and paying office).
CHART_TEXT_PX = """() => {
  const svg = document.querySelector('[data-testid="chart-phone"] svg');
  if (!svg) return null;
  const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
  return Math.min(...[...svg.querySelectorAll("text")].map(t => Number(t.getAttribute("font-size")) * scale));
}"""


def test_the_tresorerie_chart_is_readable_on_a_phone(phone):
    page = phone
    for who in ("leroy", "durand", "mairie"):
        enter(page, who)
        _go(page, "Trésorerie")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Trésorerie")
        _fits(page, f"Trésorerie de {who}")
        screenshot(page, f"phone-tresorerie-{who}")
        if page.get_by_test_id("tresorerie-empty").count():
            continue
        expect(page.get_by_test_id("chart-phone")).to_be_visible()
        expect(page.get_by_test_id("chart-wide")).to_be_hidden()
        smallest = page.evaluate(CHART_TEXT_PX)
        assert smallest >= 10.5, f"{who}: the chart's smallest text is {smallest:.1f} px on the phone"


def test_the_tresorerie_chart_keeps_its_columns_on_a_wide_screen(browser, live_server):
    context = browser.new_context(base_url=live_server[0], locale="fr-FR", viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        for who in ("leroy", "durand", "mairie"):
            enter(page, who)
            page.goto(page.url.split("/s/")[0] + re.search(r"/s/\d{14}/", page.url).group(0) + "tresorerie")
            page.wait_for_load_state("networkidle")
            screenshot(page, f"wide-tresorerie-{who}")
            if page.get_by_test_id("tresorerie-empty").count():
                continue
            expect(page.get_by_test_id("chart-wide")).to_be_visible()
            expect(page.get_by_test_id("chart-phone")).to_be_hidden()
    finally:
        context.close()


def test_the_marche_clause_pages_fit_the_phone(phone):
    """The pages of issue 16 reached from the marché (not from the menu): the avenants, whose form holds the whole
    bordereau in a fieldset (a fieldset is min-content wide by default: the page was 604 px wide), and « Retenue et
    avance »."""
    page = phone
    enter(page, "mairie")
    base = re.search(r"^(.*/s/\d{14})/", page.url).group(1)
    for path, heading in (("marches/1/avenants", "avenants"), ("marches/1/retenue-et-avance", "Retenue")):
        page.goto(f"{base}/{path}")
        expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
        _fits(page, path)
