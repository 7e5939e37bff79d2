"""An inline action clicked on a page that has been open a long time (a dashboard left open for days).

How the tokens work (config.py, Flask-WTF): the page carries a signed token (`<meta name=csrf-token>`, the hidden
`#csrf-token`, each form's hidden field) whose payload is a random value kept in the session; its signature holds
the instant it was issued. `WTF_CSRF_TIME_LIMIT = None` makes the check ignore that instant: a token stays good for
as long as its session lives. Flask-WTF's default (3600 s) would refuse a page older than an hour.

So "the page has been open for days" is reproduced exactly by what such a page holds: the same session value,
signed days ago. The test re-signs the page's token with an issue instant 30 days back (the live app's key, Flask-WTF's
salt) and puts it where the page keeps it. Under an hour's limit (switched on for one click on the live app) the
click is refused with the French message; under the application's setting the same click acts. And a page whose
session is gone (logged out and in again from another tab) must say so in French, change nothing, and work again
once reloaded.
"""
from __future__ import annotations

import re
import time

from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from playwright.sync_api import expect

from tests.e2e.actors import act_in_synthese, confirm, deposit_a10, enter, fresh_number, open_synthese, work_item
from tests.e2e.conftest import login, screenshot

THIRTY_DAYS = 30 * 24 * 3600
CSRF_SALT = "wtf-csrf-token"  # flask_wtf.csrf.generate_csrf's salt


class _IssuedLongAgo(TimestampSigner):
    """A signer whose clock is 30 days behind: the token it signs is what a page opened 30 days ago holds."""

    def get_timestamp(self) -> int:
        return int(time.time()) - THIRTY_DAYS


def _page_token(page) -> str:
    return page.locator("#csrf-token").input_value()


def _as_if_issued_30_days_ago(app, token: str) -> str:
    secret = app.config.get("WTF_CSRF_SECRET_KEY") or app.secret_key
    raw = URLSafeTimedSerializer(secret, salt=CSRF_SALT).loads(token)  # the session's value
    return URLSafeTimedSerializer(secret, salt=CSRF_SALT, signer=_IssuedLongAgo).dumps(raw)


def _put_token(page, token: str) -> None:
    """Where a page keeps its token: the head, the body's holder (read by static/app.js for htmx requests) and the
    hidden field of every form."""
    page.evaluate("""token => {
        document.querySelector('meta[name=csrf-token]').content = token;
        document.getElementById('csrf-token').value = token;
        document.querySelectorAll('input[name$="csrf_token"]').forEach(input => { input.value = token; });
    }""", token)


def test_inline_action_on_a_synthese_opened_30_days_ago_works(page, live_server):
    _base, app = live_server
    number = fresh_number("PL-C")
    enter(page, "leroy")
    deposit_a10(page, number, "3 600,00")

    enter(page, "durand")
    open_synthese(page)
    item = work_item(page, number)
    expect(item).to_contain_text("À valider par le donneur d'ordre")

    _put_token(page, _as_if_issued_30_days_ago(app, _page_token(page)))

    # The token really is 30 days old: under Flask-WTF's default limit of an hour, the click is refused — with the
    # French message, and nothing changes.
    setting = app.config["WTF_CSRF_TIME_LIMIT"]
    app.config["WTF_CSRF_TIME_LIMIT"] = 3600
    try:
        with page.expect_response(lambda r: "/synthese/" in r.url and r.request.method == "POST") as answer:
            confirm(page, item.get_by_role("button", name="Valider", exact=True))
        assert answer.value.status == 400
        expect(page.locator("#messages .message-error")).to_contain_text("Votre page a expiré")
        expect(item).to_contain_text("À valider par le donneur d'ordre")
    finally:
        app.config["WTF_CSRF_TIME_LIMIT"] = setting
    page.locator("#messages").evaluate("zone => { zone.innerHTML = ''; }")

    # With the application's setting (tokens live as long as the session), the same 30-day-old page acts.
    assert setting is None
    act_in_synthese(page, number, "Valider")
    expect(page.locator("#messages .message-error")).to_have_count(0)
    # Validated, the piece no longer waits on Durand: it leaves the list.
    expect(work_item(page, number)).to_have_count(0)


def test_a_page_whose_session_ended_says_so_and_changes_nothing(page):
    number = fresh_number("PL-S")
    enter(page, "leroy")
    deposit_a10(page, number, "960,00")

    enter(page, "durand")
    open_synthese(page)
    item = work_item(page, number)
    expect(item).to_be_visible()

    # Meanwhile, in another tab, Durand logs out and in again: the session (and the value the page's token signs)
    # is a new one.
    other = page.context.new_page()
    other.goto("/compte/")
    other.get_by_role("button", name="Se déconnecter").click()
    other.wait_for_url(re.compile(r"/connexion"))
    login(other, "durand@demo.chorus-chain.fr")
    other.close()

    with page.expect_response(lambda r: "/synthese/" in r.url and r.request.method == "POST") as answer:
        confirm(page, item.get_by_role("button", name="Valider", exact=True))
    assert answer.value.status == 400
    error = page.locator("#messages .message-error")
    expect(error).to_contain_text("Votre page a expiré")
    expect(error).to_contain_text("rien n'a été enregistré")
    expect(item).to_contain_text("À valider par le donneur d'ordre")  # the list is left as it was
    screenshot(page, "synthese-durand-page-expiree")

    # Nothing was done; reloaded, the page has a good token and the same click works.
    page.reload()
    expect(work_item(page, number)).to_contain_text("À valider par le donneur d'ordre")
    act_in_synthese(page, number, "Valider")
