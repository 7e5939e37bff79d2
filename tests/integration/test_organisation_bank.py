"""Bank details: a recent login for every change, exactly one default among the active accounts, never deleted,
every change in the journal with the full old and new IBAN, shown masked, and mailed to the gestionnaire."""
from __future__ import annotations

import html

import pytest

from chorus_chain.models import BankAccount
from tests import factories

IBAN_A = "FR7630006000011234567890189"
IBAN_B = "FR7630004000031234567890143"
IBAN_C = "FR1420041010050500013M02606"
NEW = {"label": "Compte travaux", "iban": "fr76 3000 4000 0312 3456 7890 143", "bic": "bnpafrppxxx"}


@pytest.fixture
def t(app, db):
    return factories.team(app)


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def _accounts(app, t) -> list[BankAccount]:
    return factories.rows(app, BankAccount, BankAccount.structure_id == t.structure.id)


def _defaults(app, t) -> list[str]:
    return [a.label for a in _accounts(app, t) if a.is_default]


def _bank_mails(app) -> list:
    return [m for m in factories.outbox(app) if m.subject.startswith("Coordonnées bancaires modifiées")]


# --- Seeing ---------------------------------------------------------------------------------------------------------

def test_the_list_shows_masked_ibans(app, client, t):
    factories.bank_account(app, t.structure, iban=IBAN_A, is_default=True)
    factories.login(client, t.viewer)
    page = _text(client.get(f"{t.base}/coordonnees-bancaires"))
    assert "FR76 •••• •••• 0189" in page and IBAN_A not in page and "Par défaut" in page
    assert "Ajouter un compte" not in page and "Gérer" not in page  # consultation only
    assert "0143" not in page  # the neighbour's account is not listed


def test_bank_pages_need_the_organisation_right(app, client, t):
    account = factories.bank_account(app, t.structure)
    factories.login(client, t.powerless)
    assert client.get(f"{t.base}/coordonnees-bancaires").status_code == 403
    factories.login(client, t.viewer)
    assert client.get(f"{t.base}/coordonnees-bancaires/nouvelles").status_code == 403
    assert client.get(f"{t.base}/coordonnees-bancaires/{account.id}").status_code == 403
    for url in ("", f"/{account.id}", f"/{account.id}/par-defaut", f"/{account.id}/desactiver"):
        assert client.post(f"{t.base}/coordonnees-bancaires{url}", data=NEW).status_code == 403
    assert [(a.label, a.active) for a in _accounts(app, t)] == [("Compte courant", True)]


# --- A recent login ------------------------------------------------------------------------------------------------

def test_without_a_recent_login_the_form_asks_for_the_password_and_a_post_is_refused(app, client, t):
    account = factories.bank_account(app, t.structure, is_default=True)
    factories.login(client, t.gp)
    factories.stale_login(client)
    for url in ("/nouvelles", f"/{account.id}"):
        response = client.get(f"{t.base}/coordonnees-bancaires{url}")
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/confirmation?next=")
    for url in ("", f"/{account.id}", f"/{account.id}/desactiver"):
        response = client.post(f"{t.base}/coordonnees-bancaires{url}", data=NEW,
                               headers={"Referer": f"http://localhost{t.base}/coordonnees-bancaires"})
        assert response.status_code == 303  # sent to confirm the password, back to the page afterwards
        assert response.headers["Location"].startswith("/confirmation?next=")
        assert "coordonnees-bancaires" in response.headers["Location"]
    assert [(a.label, a.active) for a in _accounts(app, t)] == [("Compte courant", True)]
    assert _bank_mails(app) == []
    # Confirming the password opens the form.
    response = client.post(f"/confirmation?next={t.base}/coordonnees-bancaires/nouvelles",
                           data={"password": factories.PASSWORD})
    assert response.headers["Location"].endswith("/coordonnees-bancaires/nouvelles")
    assert client.get(f"{t.base}/coordonnees-bancaires/nouvelles").status_code == 200


def test_the_fresh_login_window_comes_from_the_config(app, client, t):
    factories.login(client, t.gp)
    app.config["FRESH_LOGIN_SECONDS"], saved = -1, app.config["FRESH_LOGIN_SECONDS"]
    try:
        assert client.post(f"{t.base}/coordonnees-bancaires", data=NEW).status_code == 303
    finally:
        app.config["FRESH_LOGIN_SECONDS"] = saved
    assert _accounts(app, t) == []


# --- Adding ---------------------------------------------------------------------------------------------------------

def test_adding_the_first_account_makes_it_the_default_records_and_mails(app, client, t):
    factories.login(client, t.admin)
    assert "IBAN" in _text(client.get(f"{t.base}/coordonnees-bancaires/nouvelles"))
    response = client.post(f"{t.base}/coordonnees-bancaires", data=NEW)
    assert response.status_code == 302
    [account] = _accounts(app, t)
    assert (account.iban, account.bic, account.is_default, account.active) == (IBAN_B, "BNPAFRPPXXX", True, True)
    [event] = factories.events(app, t.structure, "bank_account.added")
    assert event.account_id == t.admin.id and event.at is not None
    assert event.detail["old"] is None and event.detail["new"]["iban"] == IBAN_B  # the full IBAN: the fraud trail
    [mail] = _bank_mails(app)
    assert mail.to_address == t.gp.email  # the gestionnaire, not the one who made the change
    assert "FR76 •••• •••• 0143" in mail.body and IBAN_B not in mail.body and t.admin.full_name in mail.body
    page = _text(client.get(f"{t.base}/journal"))
    assert "Coordonnées bancaires ajoutées : Compte travaux" in page and "FR76 •••• •••• 0143" in page
    assert IBAN_B not in page


def test_a_new_default_takes_over_from_the_previous_one(app, client, t):
    factories.bank_account(app, t.structure, iban=IBAN_A, is_default=True)
    factories.login(client, t.gp)
    assert client.post(f"{t.base}/coordonnees-bancaires", data=dict(NEW, is_default="y")).status_code == 302
    assert _defaults(app, t) == ["Compte travaux"]
    [event] = factories.events(app, t.structure, "bank_account.added")
    assert event.detail["default"]["old"]["iban"] == IBAN_A and event.detail["default"]["new"]["iban"] == IBAN_B
    assert client.post(f"{t.base}/coordonnees-bancaires",
                       data={"label": "Affacturage", "iban": IBAN_C, "bic": "PSSTFRPPXXX",
                             "affactureur": "y"}).status_code == 302
    assert _defaults(app, t) == ["Compte travaux"]
    assert [a.affactureur for a in _accounts(app, t)] == [False, False, True]


@pytest.mark.parametrize("changes, field, message", [
    ({"iban": "FR76 3000 4000 0312 3456 7890 144"}, "iban", "Cet IBAN n'est pas valide : vérifiez chaque caractère."),
    ({"iban": IBAN_A}, "iban", "Cet IBAN est déjà enregistré pour cette structure."),
    ({"bic": "BNPA"}, "bic", "Ce BIC n'est pas valide"),
    ({"label": ""}, "label", "Ce champ est obligatoire."),
])
def test_bad_bank_input_is_refused_field_by_field_and_changes_nothing(app, client, t, changes, field, message):
    factories.bank_account(app, t.structure, iban=IBAN_A, is_default=True)
    factories.login(client, t.gp)
    response = client.post(f"{t.base}/coordonnees-bancaires", data=dict(NEW, **changes))
    assert response.status_code == 422
    page = _text(response)
    assert f'id="{field}-error"' in page and message in page
    assert [a.iban for a in _accounts(app, t)] == [IBAN_A]
    assert factories.events(app, t.structure, "bank_account.added") == [] and _bank_mails(app) == []


def test_adding_without_the_csrf_token_changes_nothing(app, client, t, csrf):
    factories.login_with_csrf(client, t.gp)
    assert client.post(f"{t.base}/coordonnees-bancaires", data=NEW).status_code == 400
    assert _accounts(app, t) == [] and _bank_mails(app) == []


# --- Editing, default, deactivating ---------------------------------------------------------------------------------

def test_editing_label_and_affactureur_keeps_the_iban(app, client, t):
    account = factories.bank_account(app, t.structure, iban=IBAN_A, is_default=True)
    factories.login(client, t.gp)
    page = _text(client.get(f"{t.base}/coordonnees-bancaires/{account.id}"))
    assert "FR76 •••• •••• 0189" in page and IBAN_A not in page
    response = client.post(f"{t.base}/coordonnees-bancaires/{account.id}",
                           data={"label": "Compte principal", "affactureur": "y", "iban": IBAN_B})
    assert response.status_code == 302
    row = factories.reload(app, BankAccount, account.id)
    assert (row.label, row.affactureur, row.iban) == ("Compte principal", True, IBAN_A)
    [event] = factories.events(app, t.structure, "bank_account.updated")
    assert event.detail["old"]["label"] == "Compte courant" and event.detail["new"]["label"] == "Compte principal"
    assert event.detail["old"]["iban"] == event.detail["new"]["iban"] == IBAN_A
    [mail] = _bank_mails(app)
    assert "Libellé : Compte courant → Compte principal" in mail.body and IBAN_A not in mail.body


def test_an_empty_label_is_refused(app, client, t):
    account = factories.bank_account(app, t.structure)
    factories.login(client, t.gp)
    response = client.post(f"{t.base}/coordonnees-bancaires/{account.id}", data={"label": ""})
    assert response.status_code == 422 and 'id="label-error"' in _text(response)
    assert factories.reload(app, BankAccount, account.id).label == "Compte courant"


def test_choosing_the_default(app, client, t):
    first = factories.bank_account(app, t.structure, iban=IBAN_A, label="Premier", is_default=True)
    second = factories.bank_account(app, t.structure, iban=IBAN_B, label="Second")
    factories.login(client, t.gp)
    assert client.post(f"{t.base}/coordonnees-bancaires/{second.id}/par-defaut").status_code == 302
    assert _defaults(app, t) == ["Second"]
    [event] = factories.events(app, t.structure, "bank_account.default_changed")
    assert event.detail["default"] == {"old": {"id": first.id, "label": "Premier", "iban": IBAN_A},
                                       "new": {"id": second.id, "label": "Second", "iban": IBAN_B}}
    [mail] = _bank_mails(app)
    assert "Compte par défaut : Premier (FR76 •••• •••• 0189) → Second (FR76 •••• •••• 0143)" in mail.body


def test_deactivating_the_default_passes_it_on_and_never_deletes(app, client, t):
    first = factories.bank_account(app, t.structure, iban=IBAN_A, label="Premier", is_default=True)
    second = factories.bank_account(app, t.structure, iban=IBAN_B, label="Second")
    factories.login(client, t.gp)
    assert client.post(f"{t.base}/coordonnees-bancaires/{first.id}/desactiver").status_code == 302
    assert [(a.label, a.active, a.is_default) for a in _accounts(app, t)] == [
        ("Premier", False, False), ("Second", True, True)]
    assert client.post(f"{t.base}/coordonnees-bancaires/{second.id}/desactiver").status_code == 302
    assert [(a.active, a.is_default) for a in _accounts(app, t)] == [(False, False), (False, False)]
    events = factories.events(app, t.structure, "bank_account.deactivated")
    assert [e.detail["old"]["iban"] for e in events] == [IBAN_A, IBAN_B]
    assert events[0].detail["default"]["new"]["iban"] == IBAN_B and events[1].detail["default"]["new"] is None
    assert len(_bank_mails(app)) == 2
    # Deactivated: not deactivated twice, never the default again, and its IBAN may be added anew.
    response = client.post(f"{t.base}/coordonnees-bancaires/{first.id}/desactiver")
    assert response.status_code == 422 and "Ce compte est déjà désactivé." in _text(response)
    response = client.post(f"{t.base}/coordonnees-bancaires/{first.id}/par-defaut")
    assert response.status_code == 422 and "Un compte désactivé ne peut pas être le compte par défaut." in _text(
        response)
    assert client.post(f"{t.base}/coordonnees-bancaires", data=dict(NEW, iban=IBAN_A)).status_code == 302
    assert _defaults(app, t) == ["Compte travaux"]


def test_a_bank_account_of_another_structure_is_not_found(app, client, t):
    other = t.neighbour_bank
    factories.login(client, t.gp)
    assert client.get(f"{t.base}/coordonnees-bancaires/{other.id}").status_code == 404
    for url in (f"/{other.id}", f"/{other.id}/par-defaut", f"/{other.id}/desactiver"):
        assert client.post(f"{t.base}/coordonnees-bancaires{url}", data={"label": "Pirate"}).status_code == 404
    row = factories.reload(app, BankAccount, other.id)
    assert (row.label, row.active, row.is_default) == ("Compte courant", True, True)
    assert _bank_mails(app) == []
