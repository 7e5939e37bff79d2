"""CSRF in a real browser: htmx posts carry the token in their header; a missing token gives a visible message."""
from __future__ import annotations

from tests.e2e.conftest import login, screenshot


def test_htmx_post_carries_the_csrf_token(page):
    login(page, "leroy@demo.chorus-chain.fr")
    page.goto("/compte/")
    # An htmx request from script, as an inline action would send it: the glue adds X-CSRFToken.
    page.evaluate("""() => htmx.ajax('POST', '/compte/', {target: '#messages', swap: 'innerHTML',
                       values: {first_name: 'Nathalie', last_name: 'Leroy-Martin', phone: '', contact_email: ''}})""")
    page.wait_for_load_state("networkidle")
    page.goto("/compte/")
    assert page.get_by_label("Nom", exact=True).input_value() == "Leroy-Martin"
    screenshot(page, "compte")


def test_missing_token_is_reported_not_silent(page):
    login(page, "petit@demo.chorus-chain.fr")
    page.goto("/compte/")
    # Simulate a page whose token no longer matches the session (e.g. after a logout elsewhere).
    page.evaluate("() => { document.getElementById('csrf-token').value = 'stale';"
                  " document.querySelector('meta[name=csrf-token]').content = 'stale'; }")
    page.evaluate("""() => htmx.ajax('POST', '/compte/', {target: '#main', swap: 'innerHTML',
                       values: {first_name: 'X', last_name: 'Y'}})""")
    message = page.locator("#messages .message-error")
    message.wait_for()
    assert "Rechargez la page" in message.inner_text()


def test_boosted_form_post_works_with_its_hidden_token(page):
    login(page, "moreau@demo.chorus-chain.fr")
    page.goto("/compte/")
    page.get_by_label("Téléphone").fill("02 41 00 00 00")
    page.get_by_role("button", name="Enregistrer").click()
    page.get_by_text("Vos informations sont enregistrées.").wait_for()
