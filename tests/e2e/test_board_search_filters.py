"""The Tableau de bord's marché and company filters as search fields (issue 20), in a browser: typed at a human's pace
and fast, chosen with the keyboard alone. The demo's structures have a few marchés and companies: the bound is
lowered for this module's live server (same process) so that both filters are search fields.

What must hold: the suggestions are asked by GET (no CSRF token involved, nothing changes), the list follows the
last text typed (never an older answer), what is typed is never overwritten, Enter chooses the suggestion under the
arrow (the board follows, the address carries the id), and the field says what it holds."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from chorus_chain.operations.board_reading import parties
from tests.e2e.actors import enter, open_tableau_de_bord
from tests.e2e.conftest import screenshot


@pytest.fixture(autouse=True)
def _search_fields(monkeypatch):
    monkeypatch.setattr(parties, "OFFER_MAX", 0)


def _suggestions(page, field):
    return page.locator(f"#{field}-suggestions [role=option]:not([aria-disabled=true])")


def _settled(page) -> None:
    page.wait_for_timeout(400)  # past the typing delay (250 ms): no request of a late keystroke is still to come
    page.wait_for_load_state("networkidle")


def test_the_company_and_marche_filters_are_searched_and_chosen_with_the_keyboard(page):
    requests = []
    page.on("request", lambda request: requests.append(request) if "/filtres/" in request.url else None)
    enter(page, "durand")
    open_tableau_de_bord(page)
    company = page.get_by_role("combobox", name="Entreprise émettrice")
    marche = page.get_by_role("combobox", name="Marché")
    expect(page.locator("select#party_id")).to_have_count(0)

    # A human's pace: the suggestions hold what is typed, and only that.
    company.click()
    company.type("plât", delay=150)
    _settled(page)
    expect(company).to_have_attribute("aria-expanded", "true")
    options = _suggestions(page, "party_id")
    expect(options.first).to_contain_text("Plâtrerie Leroy")
    assert all("plât" in text.lower() for text in options.all_inner_texts())
    if page.viewport_size["width"] >= 1000:
        screenshot(page, "board-search-company-1280")

    # Fast, over the previous text: the field holds every key, the list follows the last text.
    company.fill("")
    company.type("xyzzy", delay=0)
    company.press("Backspace")
    company.press("Backspace")
    company.press("Backspace")
    company.press("Backspace")
    company.press("Backspace")
    company.type("leroy", delay=0)
    _settled(page)
    expect(company).to_have_value("leroy")
    expect(_suggestions(page, "party_id").first).to_contain_text("Leroy")
    assert all("leroy" in text.lower() for text in _suggestions(page, "party_id").all_inner_texts())

    # The keyboard alone: down to the first suggestion, Enter chooses it; the board follows, the address says it.
    company.press("ArrowDown")
    chosen = _suggestions(page, "party_id").first
    expect(chosen).to_have_attribute("aria-selected", "true")
    expect(company).to_have_attribute("aria-activedescendant", chosen.get_attribute("id"))
    label, value = chosen.get_attribute("data-label"), chosen.get_attribute("data-value")
    with page.expect_response(lambda r: "/tableau-de-bord?" in r.url and f"party_id={value}" in r.url):
        company.press("Enter")
    expect(company).to_have_value(label)
    expect(company).to_have_attribute("aria-expanded", "false")
    expect(page).to_have_url(re.compile(rf"party_id={value}"))
    expect(page.locator("#board")).to_contain_text("Leroy")

    # The marché: a part of its reference, the arrow, Enter.
    marche.click()
    marche.type("m", delay=120)
    _settled(page)
    expect(_suggestions(page, "marche_id").first).to_be_visible()
    marche.press("ArrowDown")
    reference = _suggestions(page, "marche_id").first.get_attribute("data-label")
    marche_id = _suggestions(page, "marche_id").first.get_attribute("data-value")
    marche.press("Enter")
    expect(marche).to_have_value(reference)
    expect(page).to_have_url(re.compile(rf"marche_id={marche_id}"))
    # Escape closes the list without choosing; what was typed stays.
    marche.fill("")
    marche.type("zz-aucun", delay=30)
    _settled(page)
    expect(page.locator("#marche_id-suggestions")).to_contain_text("Aucun de vos marchés ne correspond")
    marche.press("Escape")
    expect(marche).to_have_attribute("aria-expanded", "false")
    expect(marche).to_have_value("zz-aucun")

    # Every suggestion was asked by GET, without a CSRF token: reading changes nothing.
    suggested = [r for r in requests if "/filtres/" in r.url]
    assert suggested and all(r.method == "GET" and "x-csrftoken" not in r.headers for r in suggested)


def test_on_a_phone_the_suggestions_fit_the_screen(phone):
    enter(phone, "durand")
    open_tableau_de_bord(phone)
    company = phone.get_by_role("combobox", name="Entreprise émettrice")
    company.scroll_into_view_if_needed()
    company.tap()
    company.type("e", delay=100)
    _settled(phone)
    listbox = phone.locator("#party_id-suggestions")
    expect(listbox).to_be_visible()
    box = listbox.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    screenshot(phone, "board-search-company-390")
    _suggestions(phone, "party_id").first.tap()
    expect(phone).to_have_url(re.compile(r"party_id=\d+"))
