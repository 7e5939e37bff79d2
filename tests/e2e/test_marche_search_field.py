"""The Synthèse's and the pieces' list's marché filter as a search field beyond OFFER_MAX marchés (issue 20), in a
browser: the Tableau de bord's combobox, typed at a human's pace and fast, chosen with the keyboard alone, at 1366 px
and on a 390 px phone. The demo's companies have one marché: this module gives Durand three more in its own database,
and lowers the bound for its live server (same process) to 2, so that Durand's four marchés make a search field.

What must hold: the suggestions and the list that follows the choice are asked by GET (HTMX, no CSRF token: reading
changes nothing), the suggestions follow the last text typed, what is typed is never overwritten, Enter chooses the
suggestion under the arrow (the list follows, the address carries the id), and the list fits the phone's screen."""
from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from chorus_chain.operations.board_reading import parties
from tests.e2e.actors import STRUCTURES, enter, go_to_pieces
from tests.e2e.conftest import screenshot

EXTRA = ("LOT-ECOLE-2026", "LOT-GYMNASE-2026", "VOIRIE-NORD-2027")


@pytest.fixture(scope="module", autouse=True)
def _durands_marches(live_server):
    """Three more marchés where Durand is titulaire: no piece on them (chosen, the lists are empty)."""
    from sqlalchemy import select

    from chorus_chain.extensions import db
    from chorus_chain.models import Marche, MarcheParty, Structure

    app = live_server[1]
    with app.app_context():
        durand = db.session.scalar(select(Structure).where(Structure.name == STRUCTURES["durand"]))
        demo = db.session.scalar(select(Marche).order_by(Marche.id))
        for n, reference in enumerate(EXTRA):
            marche = Marche(reference=reference, objet="Autre chantier", kind="travaux", moa_service_code="TECH",
                            engagement_number=f"EJ-E2E-{n}", paying_service_code="FIN",
                            montant_ht=Decimal("100000.00"), tva_rate=Decimal("20.00"), dgp_days=30, moe_days=7,
                            groupement="conjoint", created_by_id=demo.created_by_id)
            db.session.add(marche)
            db.session.flush()
            db.session.add(MarcheParty(marche_id=marche.id, structure_id=durand.id, siret=durand.siret,
                                       name=durand.name, role="titulaire", montant_ttc=Decimal("120000.00"),
                                       status="confirmed"))
        db.session.commit()


@pytest.fixture(autouse=True)
def _search_fields(monkeypatch):
    monkeypatch.setattr(parties, "OFFER_MAX", 2)


@pytest.fixture
def wide(browser, live_server):
    """A laptop's screen: 1366 px wide."""
    context = browser.new_context(base_url=live_server[0], locale="fr-FR", viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def _suggestions(page, field):
    return page.locator(f"#{field}-suggestions [role=option]:not([aria-disabled=true])")


def _settled(page) -> None:
    page.wait_for_timeout(400)  # past the typing delay (250 ms): no request of a late keystroke is still to come
    page.wait_for_load_state("networkidle")


def _choose_first(page, field, combobox, list_path: str) -> tuple[str, str]:
    """The arrow down to the first suggestion, Enter: the list follows (its GET), the field shows the choice."""
    combobox.press("ArrowDown")
    chosen = _suggestions(page, field).first
    expect(chosen).to_have_attribute("aria-selected", "true")
    expect(combobox).to_have_attribute("aria-activedescendant", chosen.get_attribute("id"))
    label, value = chosen.get_attribute("data-label"), chosen.get_attribute("data-value")
    with page.expect_response(lambda r: f"{list_path}?" in r.url and f"marche_id={value}" in r.url) as answer:
        combobox.press("Enter")
    assert answer.value.request.method == "GET" and answer.value.request.headers.get("hx-request") == "true"
    expect(combobox).to_have_value(label)
    expect(combobox).to_have_attribute("aria-expanded", "false")
    expect(page).to_have_url(re.compile(rf"marche_id={value}"))
    return label, value


def test_the_synthese_and_the_list_search_their_marche_with_the_keyboard(wide):
    page = wide
    requests = []
    page.on("request", lambda request: requests.append(request))
    enter(page, "durand")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Synthèse")
    marche = page.get_by_role("combobox", name="Marché")
    expect(page.locator("select#synthese-marche")).to_have_count(0)
    expect(page.get_by_test_id("work-count")).to_contain_text("à traiter")

    # A human's pace: the suggestions hold what is typed, and only that.
    marche.click()
    marche.type("lot", delay=150)
    _settled(page)
    expect(marche).to_have_attribute("aria-expanded", "true")
    expect(_suggestions(page, "synthese-marche")).to_have_count(2)
    assert _suggestions(page, "synthese-marche").all_inner_texts() == ["LOT-ECOLE-2026", "LOT-GYMNASE-2026"]
    screenshot(page, "synthese-search-marche-1366")

    # Fast, over the previous text: the field holds every key, the list follows the last text.
    marche.fill("")
    marche.type("xyzzy", delay=0)
    for _ in range(5):
        marche.press("Backspace")
    marche.type("demo", delay=0)
    _settled(page)
    expect(marche).to_have_value("demo")
    expect(_suggestions(page, "synthese-marche")).to_have_count(1)
    expect(_suggestions(page, "synthese-marche").first).to_have_text("DEMO-TRAVAUX-2026")

    # The keyboard alone: the demo marché's pieces are listed; then a marché without any, the list says so.
    _choose_first(page, "synthese-marche", marche, "/synthese")
    expect(page.get_by_test_id("work-count")).to_contain_text("à traiter")
    expect(page.get_by_test_id("work-empty")).to_have_count(0)
    marche.fill("")
    marche.type("gymn", delay=60)
    _settled(page)
    label, _ = _choose_first(page, "synthese-marche", marche, "/synthese")
    assert label == "LOT-GYMNASE-2026"
    expect(page.get_by_test_id("work-empty")).to_be_visible()
    # Escape closes the list without choosing; what was typed stays.
    marche.fill("")
    marche.type("zz-aucun", delay=30)
    _settled(page)
    expect(page.locator("#synthese-marche-suggestions")).to_contain_text("Aucun de vos marchés ne correspond")
    marche.press("Escape")
    expect(marche).to_have_attribute("aria-expanded", "false")
    expect(marche).to_have_value("zz-aucun")

    # The pieces' list: the same field, the same suggestions.
    go_to_pieces(page)
    marche = page.get_by_role("combobox", name="Marché")
    expect(page.locator("select#marche_id")).to_have_count(0)
    marche.click()
    marche.type("demo-tr", delay=120)
    _settled(page)
    _choose_first(page, "marche_id", marche, "/pieces/")
    expect(page.locator("#pieces-list")).to_contain_text("DEMO-TRAVAUX-2026")
    screenshot(page, "pieces-search-marche-1366")

    # Every suggestion and every list was asked by GET, without a CSRF token: reading changes nothing.
    read = [r for r in requests if "/filtres/marches" in r.url or ("marche_id=" in r.url and "hx-request" in r.headers)]
    assert len([r for r in read if "/filtres/marches" in r.url]) >= 4
    assert all(r.method == "GET" and "x-csrftoken" not in r.headers for r in read)


def test_on_a_phone_the_synthese_suggestions_fit_the_screen(phone):
    enter(phone, "durand")
    marche = phone.get_by_role("combobox", name="Marché")
    marche.scroll_into_view_if_needed()
    marche.tap()
    marche.type("lot", delay=100)
    _settled(phone)
    listbox = phone.locator("#synthese-marche-suggestions")
    expect(listbox).to_be_visible()
    box, field = listbox.bounding_box(), marche.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390 and field["x"] + field["width"] <= 390
    screenshot(phone, "synthese-search-marche-390")
    with phone.expect_response(lambda r: "/synthese?" in r.url and "marche_id=" in r.url):
        _suggestions(phone, "synthese-marche").first.tap()
    expect(phone).to_have_url(re.compile(r"marche_id=\d+"))
    expect(phone.get_by_test_id("work-empty")).to_be_visible()
