"""A phone (390 px) and fast typing (issue 15).

- At 390 px: a compact header with the menu folded (the page's content starts near the top), tables scrolling inside
  their own box and never the page, the décompte's input column and the finance charts usable. Screenshots of the
  Synthèse, a piece, the décompte entry and the finances page in tests/artifacts/ (phone-*.png).
- Typing fast in the décompte: each figure typed into one row while the previous one is recomputed keeps every
  keystroke (Playwright `type` with no delay, and with a human one); the amounts follow.
"""
from __future__ import annotations

import re
from decimal import Decimal

from playwright.sync_api import expect

from tests.e2e.actors import add_to_line, enter, french_number, fresh_number, start_decompte
from tests.e2e.conftest import screenshot


def _page_scrolls_sideways(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth > document.documentElement.clientWidth + 1")


def _open_menu_and_go(page, name: str) -> None:
    page.get_by_test_id("menu-button").click()
    nav = page.get_by_role("navigation", name="Structure")
    expect(nav).to_be_visible()
    nav.get_by_role("link", name=name, exact=True).click()


def test_a_phone_sees_compact_pages_that_never_scroll_sideways(phone):
    page = phone
    enter(page, "leroy")  # one structure: the Synthèse directly
    expect(page.get_by_role("heading", level=1)).to_contain_text("Synthèse")
    # The header and its menu take little room before the content: the menu is folded.
    expect(page.get_by_role("navigation", name="Structure")).to_be_hidden()
    top = page.get_by_role("heading", level=1).bounding_box()["y"]
    assert top < 200, top
    assert not _page_scrolls_sideways(page)
    screenshot(page, "phone-synthese")

    _open_menu_and_go(page, "Tableau de bord")
    expect(page.get_by_role("heading", level=1)).to_have_text("Tableau de bord")
    assert not _page_scrolls_sideways(page)
    # A piece of the list, its page: tables inside their own box.
    page.locator("a.mono", has_text=re.compile(r"^PL-")).first.click()
    page.wait_for_url(re.compile(r"/pieces/\d+$"))
    assert not _page_scrolls_sideways(page)
    screenshot(page, "phone-piece")

    # The marché's finances: the charts fit the width.
    page.goto(re.sub(r"/pieces/\d+$", "/marches/", page.url))
    page.locator("main a", has_text="DEMO-TRAVAUX-2026").first.click()
    page.get_by_role("link", name=re.compile("Finances")).first.click()
    expect(page.locator("svg").first).to_be_visible()
    assert not _page_scrolls_sideways(page)
    width = page.evaluate("() => Math.max(...[...document.querySelectorAll('main svg')].map(s => "
                          "s.getBoundingClientRect().right))")
    assert width <= 390, width
    screenshot(page, "phone-finances")


def test_a_phone_enters_its_decompte(phone):
    page = phone
    enter(page, "leroy")
    number = fresh_number("PL-P")
    start_decompte(page, number)
    assert not _page_scrolls_sideways(page)
    cumul = page.get_by_label("Cumul à ce jour, ligne PL-01")
    cumul.scroll_into_view_if_needed()
    box = cumul.bounding_box()
    assert box["width"] >= 60 and cumul.is_editable()  # the input column is reachable and usable
    add_to_line(page, "PL-01", Decimal("10"))
    expect(page.locator("#totals")).to_contain_text("300,00")
    screenshot(page, "phone-decompte")


def _typed(page, line: str) -> Decimal:
    return french_number(page.get_by_label(f"Cumul à ce jour, ligne {line}").input_value())


def test_typing_fast_never_loses_or_mixes_a_keystroke(page):
    enter(page, "leroy")
    start_decompte(page, fresh_number("PL-F"))
    first, second = page.get_by_label("Cumul à ce jour, ligne PL-01"), page.get_by_label("Cumul à ce jour, ligne PL-02")
    base_first, base_second = _typed(page, "PL-01"), _typed(page, "PL-02")
    for delay, (a, b) in ((0, ("1360", "350")), (120, ("1511,5", "360"))):
        # Type into the first row, then at once into the second while the first is being recomputed.
        first.fill("")
        first.type(a, delay=delay)
        second.fill("")
        second.type(b, delay=delay)
        first.fill("")  # and back to the first while the second's answer is on its way
        first.type(a, delay=delay)
        page.wait_for_load_state("networkidle")
        expect(first).to_have_value(a)
        expect(second).to_have_value(b)
        # The amounts followed the figures as typed: 30 € and 24 € per m² (the bordereau's PL-01 and PL-02).
        total = Decimal(a.replace(",", ".")) * 30 + Decimal(b.replace(",", ".")) * 24
        amount = french_number(page.locator(f"#amount-{first.get_attribute('id')[2:]}").inner_text()) + french_number(
            page.locator(f"#amount-{second.get_attribute('id')[2:]}").inner_text())
        assert amount == total, (delay, amount, total)
    assert (base_first, base_second) != (None, None)
