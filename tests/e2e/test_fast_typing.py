"""Typing fast into the décompte (issue 15): no keystroke lost or mixed, and no amount ever shown that was not
computed from the figure standing in its row.

The mandataire (Durand Bâtiment) enters its projet de décompte (its last, DB-2026-004, stands at GO-03 1 750 m²,
CH-01 55 %, GO-02 320 m³: the figures typed are above them but GO-02's): several quantities in a row, typed with no delay and
with ~20 ms between keys (`page.keyboard.type`), going back to the first row while the second one's answer is on its
way. A recorder in the page notes every amount the server's answers put in, with the figure its row held at that
instant: each must be that figure × the line's price. At the end the inputs hold exactly what was typed and the
rows and totals follow them.
"""
from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tests.e2e.actors import enter, french_number, fresh_number, start_decompte

# Durand's lines of the demo bordereau (chorus_chain/demo_money.SCHEDULE): a quantity's unit price, or a lump sum
# entered in % of its amount.
PRICES = {"GO-02": Decimal("450"), "GO-03": Decimal("120")}
LUMP_SUMS = {"GO-01": Decimal("84000"), "CH-01": Decimal("300000")}

RECORDER = """() => {
  window.__amounts = [];
  new MutationObserver(records => {
    for (const record of records) {
      for (const node of record.addedNodes) {
        if (node.nodeType === 1 && node.id && node.id.startsWith("amount-")) {
          const input = document.getElementById("m_" + node.id.substring(7));
          window.__amounts.push({row: node.id, shown: node.textContent, typed: input ? input.value : null});
        }
      }
    }
  }).observe(document.getElementById("decompte"), {childList: true, subtree: true});
}"""


def _expected(reference: str, typed: str) -> Decimal:
    figure = Decimal(typed.replace(" ", "").replace(",", ".") or "0")
    if reference in LUMP_SUMS:
        return (LUMP_SUMS[reference] * figure / 100).quantize(Decimal("0.01"))
    return (PRICES[reference] * figure).quantize(Decimal("0.01"))


def _field(page, reference: str):
    return page.get_by_label(re.compile(rf"^Cumul à ce jour, ligne {reference}( \(en %\))?$"))


def _settled(page) -> None:
    """Every answer to what was typed has come back and been applied: nothing waits any more."""
    expect(page.locator("#decompte [aria-busy=true]")).to_have_count(0, timeout=20_000)
    page.wait_for_timeout(600)  # past the typing delay: no request of a late keystroke is still to come
    expect(page.locator("#decompte [aria-busy=true]")).to_have_count(0, timeout=20_000)


@pytest.mark.parametrize("delay", [0, 20])
def test_typing_fast_in_several_rows_never_loses_a_keystroke_nor_shows_a_stale_amount(page, delay):
    enter(page, "durand")
    start_decompte(page, fresh_number(f"DB-T{delay}"), cadre="A4")
    ids = {reference: _field(page, reference).get_attribute("id")[2:] for reference in (*PRICES, *LUMP_SUMS)}
    page.evaluate(RECORDER)

    typed = {"GO-03": "1780", "CH-01": "62,5", "GO-02": "318,75"}
    for reference in ("GO-03", "CH-01", "GO-02", "GO-03"):  # back to the first while the others are computed
        value = typed[reference] if reference != "GO-03" or delay == 0 else "1792,5"
        typed[reference] = value
        field = _field(page, reference)
        field.click()
        page.keyboard.press("Control+A")
        page.keyboard.type(value, delay=delay)
    _settled(page)

    for reference, value in typed.items():
        expect(_field(page, reference)).to_have_value(value)  # every keystroke kept, none from another row
    shown = {reference: french_number(page.locator(f"#amount-{ids[reference]}").inner_text()) for reference in ids}
    for reference, value in typed.items():
        assert shown[reference] == _expected(reference, value), (reference, value, shown[reference])
    # The totals are the rows' sum: the works' cumul to date, computed from the figures as they stand.
    works = page.locator("#totals tr", has=page.locator("td", has_text="Travaux")).locator("td").nth(1)
    assert french_number(works.inner_text()) == sum(shown.values()), (works.inner_text(), shown)

    # Never, while typing, did an answer put in a row an amount computed from another figure than the row's own.
    records = page.evaluate("() => window.__amounts")
    assert records, "the amounts were never recomputed while typing"
    by_id = {f"amount-{row}": reference for reference, row in ids.items()}
    stale = [r for r in records if french_number(r["shown"]) != _expected(by_id[r["row"]], r["typed"])]
    assert not stale, stale


def test_a_cumul_below_last_months_is_answered_and_nothing_stays_waiting(page):
    """Durand's last décompte (DB-2026-004, month 4) stands at GO-03 1 750 m² and CH-01 55 %: typed lower, the month's
    total is negative. The answer still comes for every part — the rows computed from what is typed, the refusal
    said, the totals emptied — so nothing stays greyed as if an answer were still to come."""
    enter(page, "durand")
    start_decompte(page, fresh_number("DB-TN"), cadre="A4")
    field = _field(page, "GO-03")
    field.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("1650", delay=0)
    _settled(page)
    expect(field).to_have_value("1650")
    expect(page.locator("#decompte-error")).to_be_visible()
    expect(page.locator("#totals")).not_to_contain_text("Montant HT de ce projet de décompte")
    page.keyboard.press("Control+A")
    page.keyboard.type("1780", delay=0)  # back above last month's: the totals come back
    _settled(page)
    expect(page.locator("#decompte-error")).to_be_hidden()
    expect(page.locator("#totals")).to_contain_text("Montant HT de ce projet de décompte")


def test_enter_in_a_figure_goes_to_the_next_one_and_keeps_the_inputs(page):
    enter(page, "durand")
    start_decompte(page, fresh_number("DB-TE"), cadre="A4")
    first, second = _field(page, "GO-03"), _field(page, "CH-01")
    first.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("1780", delay=0)
    page.keyboard.press("Enter")  # the next figure, not the whole form sent back (its answer replaces the inputs)
    expect(second).to_be_focused()
    page.keyboard.press("Control+A")
    page.keyboard.type("60", delay=0)
    _settled(page)
    expect(first).to_have_value("1780")
    expect(second).to_have_value("60")
    # The works: GO-01 100 % of 84 000 + GO-02 320 × 450 (as last month) + GO-03 1780 × 120 + CH-01 60 % of 300 000.
    expect(page.locator("#totals")).to_contain_text("621 600,00")
