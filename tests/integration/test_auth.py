"""Sign-up, activation, login, logout, password reset and change — and no account enumeration."""
from __future__ import annotations

import re

import pytest

from chorus_chain.extensions import db
from chorus_chain.models import Account
from tests import factories

STRONG = "une phrase assez longue 2026"


def _link(mail, path_prefix):
    match = re.search(rf"http://localhost({path_prefix}[^\s]+)", mail.body)
    assert match, mail.body
    return match.group(1)


def _account(app, email):
    with app.app_context():
        acc = db.session.scalar(db.select(Account).where(Account.email == email))
        if acc is not None:
            db.session.expunge(acc)
        return acc


def test_signup_activation_then_login(app, client):
    response = client.post("/inscription", data={"first_name": "Inès", "last_name": "Garnier",
                                                 "email": " Ines.Garnier@Exemple.FR ", "password": STRONG})
    assert response.status_code == 200
    assert "Consultez votre messagerie" in response.get_data(as_text=True)
    account = _account(app, "ines.garnier@exemple.fr")
    assert account is not None and account.activated_at is None
    assert account.password_hash.startswith("scrypt:")  # never the password itself

    # Not activated yet: cannot log in.
    response = client.post("/connexion", data={"email": "ines.garnier@exemple.fr", "password": STRONG})
    assert response.status_code == 422
    assert "pas encore activé" in response.get_data(as_text=True)

    mail = factories.outbox(app)[-1]
    assert mail.to_address == "ines.garnier@exemple.fr" and "Activez" in mail.subject
    assert mail.sent_at is not None and mail.transport == "log"  # the inline job ran after the commit
    response = client.get(_link(mail, "/activation/"))
    assert response.status_code == 302
    assert _account(app, "ines.garnier@exemple.fr").activated_at is not None

    response = client.post("/connexion", data={"email": "INES.garnier@exemple.fr", "password": STRONG})
    assert response.status_code == 302
    assert client.get("/compte/structures").status_code == 200


@pytest.mark.parametrize("password, message", [
    ("court", "au moins 12 caractères"),
    ("aaaaaaaaaaaaaaaa", "trop facile"),
    ("azertyuiop123", "trop facile"),
])
def test_weak_passwords_are_refused_with_a_field_error(app, client, password, message):
    response = client.post("/inscription", data={"first_name": "A", "last_name": "B", "email": "weak@exemple.fr",
                                                 "password": password})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html and 'id="password-error"' in html
    assert _account(app, "weak@exemple.fr") is None
    assert factories.outbox(app) == []


def test_signup_with_an_existing_email_says_the_same_and_warns_the_owner(app, client):
    existing = factories.account(app, email="deja@exemple.fr")
    response = client.post("/inscription", data={"first_name": "X", "last_name": "Y", "email": "deja@exemple.fr",
                                                 "password": STRONG})
    assert response.status_code == 200
    assert "Consultez votre messagerie" in response.get_data(as_text=True)  # same page as a new address
    mails = factories.outbox(app)
    assert [m.to_address for m in mails] == ["deja@exemple.fr"]
    assert "Tentative d'inscription" in mails[0].subject
    assert _account(app, "deja@exemple.fr").password_hash == existing.password_hash


def test_login_failure_does_not_tell_which_part_was_wrong(app, client):
    factories.account(app, email="connu@exemple.fr")
    unknown = client.post("/connexion", data={"email": "inconnu@exemple.fr", "password": "whatever-long-1"})
    wrong = client.post("/connexion", data={"email": "connu@exemple.fr", "password": "whatever-long-1"})
    assert unknown.status_code == wrong.status_code == 422
    text = "Adresse e-mail ou mot de passe incorrect."
    assert text in unknown.get_data(as_text=True) and text in wrong.get_data(as_text=True)


def test_login_rejects_open_redirects(app, client):
    acc = factories.account(app)
    response = client.post("/connexion?next=//evil.example/x", data={"email": acc.email,
                                                                     "password": factories.PASSWORD})
    assert response.headers["Location"].endswith("/compte/structures")
    client.post("/deconnexion")
    response = client.post("/connexion?next=/compte/", data={"email": acc.email, "password": factories.PASSWORD})
    assert response.headers["Location"].endswith("/compte/")


def test_logout_clears_the_session(app, client):
    acc = factories.account(app)
    factories.login(client, acc)
    with client.session_transaction() as session:
        session["something"] = "kept until logout"
    client.post("/deconnexion")
    with client.session_transaction() as session:
        assert "something" not in session and "_user_id" not in session
    assert client.get("/compte/").status_code == 302


def _without_tokens(page: str) -> str:
    import re

    return re.sub(r'(csrf[-_]token"[^>]*?(?:content|value)=")[^"]+"', r'\1…"', page)


def test_password_reset_flow_is_single_use_and_silent_for_unknown_addresses(app, client):
    acc = factories.account(app, email="oubli@exemple.fr")
    unknown = client.post("/mot-de-passe-oublie", data={"email": "personne@exemple.fr"})
    known = client.post("/mot-de-passe-oublie", data={"email": "oubli@exemple.fr"})
    assert unknown.status_code == known.status_code == 200
    # Same page but for the address (the CSRF tokens carry the second they were signed: masked).
    assert _without_tokens(unknown.get_data(as_text=True).replace("personne@exemple.fr", "X")) == \
        _without_tokens(known.get_data(as_text=True).replace("oubli@exemple.fr", "X"))
    mails = factories.outbox(app)
    assert [m.to_address for m in mails] == ["oubli@exemple.fr"]
    link = _link(mails[0], "/mot-de-passe/")

    assert client.post(link, data={"password": "court"}).status_code == 422
    response = client.post(link, data={"password": STRONG})
    assert response.status_code == 302
    assert client.post(link, data={"password": STRONG + "!"}).status_code == 422  # used: dead
    assert _account(app, "oubli@exemple.fr").check_password(STRONG)
    assert acc.session_version < _account(app, "oubli@exemple.fr").session_version


def test_tampered_or_expired_tokens_are_refused(app, client):
    assert client.get("/activation/not-a-token").status_code == 400
    response = client.post("/mot-de-passe/forged", data={"password": STRONG})
    assert response.status_code == 422 and "pas valide" in response.get_data(as_text=True)


def test_change_password_logs_out_other_sessions(app, db):
    acc = factories.account(app)
    first, second = app.test_client(), app.test_client()
    factories.login(first, acc)
    factories.login(second, acc)
    response = first.post("/compte/mot-de-passe", data={"pw-current_password": "faux mot de passe",
                                                        "pw-password": STRONG})
    assert response.status_code == 422 and "incorrect" in response.get_data(as_text=True)
    response = first.post("/compte/mot-de-passe", data={"pw-current_password": factories.PASSWORD,
                                                        "pw-password": STRONG})
    assert response.status_code == 302
    assert first.get("/compte/").status_code == 200  # this session goes on
    assert second.get("/compte/").status_code == 302  # the other one is logged out
    assert "mot de passe a été changé" in factories.outbox(app)[-1].subject


def test_profile_update_with_contact_email(app, client):
    acc = factories.account(app)
    factories.login(client, acc)
    response = client.post("/compte/", data={"first_name": "Jeanne", "last_name": "Roux", "phone": "",
                                             "contact_email": "pas-une-adresse"})
    assert response.status_code == 422 and "adresse e-mail valide" in response.get_data(as_text=True)
    response = client.post("/compte/", data={"first_name": "Jeanne", "last_name": "Roux", "phone": "0601020304",
                                             "contact_email": "Compta@Exemple.fr"})
    assert response.status_code == 302
    stored = _account(app, acc.email)
    assert (stored.first_name, stored.contact_email) == ("Jeanne", "compta@exemple.fr")


def test_login_is_rate_limited(app, client):
    limit = app.config["LOGIN_RATE_LIMIT"]
    app.config["LOGIN_RATE_LIMIT"] = "10 per minute"
    try:
        # A client address of its own (a documentation address; no traffic goes anywhere).
        codes = [client.post("/connexion", data={"email": "x@exemple.fr", "password": "nope-nope-nope"},
                             environ_base={"REMOTE_ADDR": "192.0.2.77"}).status_code for _ in range(12)]
    finally:
        app.config["LOGIN_RATE_LIMIT"] = limit
    assert codes[:10] == [422] * 10
    assert codes[10:] == [429, 429]


def test_forms_and_logout_need_the_csrf_token(app, client, csrf):
    acc = factories.account(app)
    response = client.post("/connexion", data={"email": acc.email, "password": factories.PASSWORD})
    assert response.status_code == 400
    assert "Page expirée" in response.get_data(as_text=True) or "jeton" in response.get_data(as_text=True)
    # An HTMX post without its header: a clear message aimed at the message zone, not a silent failure.
    response = client.post("/connexion", data={}, headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert response.headers["HX-Retarget"] == "#messages"
    assert "rechargez la page" in response.get_data(as_text=True).lower()


def test_csrf_token_from_the_page_is_accepted(app, client, csrf):
    acc = factories.account(app)
    page = client.get("/connexion").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post("/connexion", data={"email": acc.email, "password": factories.PASSWORD,
                                               "csrf_token": token})
    assert response.status_code == 302
    # The same token travels in the X-CSRFToken header for HTMX posts.
    page = client.get("/compte/").get_data(as_text=True)
    header_token = re.search(r'id="csrf-token" value="([^"]+)"', page).group(1)
    response = client.post("/compte/", data={"first_name": "A", "last_name": "B"},
                           headers={"X-CSRFToken": header_token, "HX-Request": "true"})
    assert response.status_code == 302


def test_session_cookie_flags_in_production_config(monkeypatch):
    from chorus_chain import config

    monkeypatch.setenv("CHORUS_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.delenv("SESSION_COOKIE_SECURE", raising=False)
    settings = config.load()
    assert settings["SESSION_COOKIE_SECURE"] is True
    assert settings["SESSION_COOKIE_HTTPONLY"] is True
    assert settings["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert settings["OUTBOX_PAGE"] is False
    monkeypatch.delenv("SECRET_KEY")
    with pytest.raises(RuntimeError):
        config.load()


def test_outbox_page_is_absent_in_production(app, client):
    app.config["OUTBOX_PAGE"] = False
    try:
        assert client.get("/dev/outbox").status_code == 404
    finally:
        app.config["OUTBOX_PAGE"] = True


def test_one_structure_lands_on_its_synthese_several_choose(app, db, client):
    """Nothing to choose, nothing asked (issue 15): a member of one structure lands on its Synthèse at login."""
    owner = factories.account(app)
    structure = factories.structure(app, owner, name="Seule structure")
    response = factories.login(client, owner)
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/s/{structure.siret}/synthese")
    assert client.get("/").headers["Location"].endswith(f"/s/{structure.siret}/synthese")
    factories.structure(app, owner, name="Deuxième structure")
    assert client.get("/").headers["Location"].endswith("/compte/structures")
