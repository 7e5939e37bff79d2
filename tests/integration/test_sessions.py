"""Sessions end at logout (issue 13): a session cookie or a « remember me » cookie captured before logout stops
working at once; the remember cookie lives as long as the application says (REMEMBER_DAYS), never flask-login's
365 days; a password change ends the other sessions; downloads are never stored by a browser or a proxy."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from chorus_chain.extensions import db
from chorus_chain.models import LoginSession
from tests import factories

STRONG = "Un-mot-de-passe-bien-long-2026"


def _cookies(client) -> dict[str, str]:
    return {cookie.key: cookie.value for cookie in client._cookies.values()}


def _client_with(app, cookies: dict[str, str]):
    """A new browser holding only these cookies (as an attacker who copied them)."""
    other = app.test_client()
    for name, value in cookies.items():
        other.set_cookie(name, value, domain="localhost")
    return other


def _logged_in(client) -> bool:
    return client.get("/compte/").status_code == 200


def _login(client, account, remember: bool):
    data = {"email": account.email, "password": factories.PASSWORD}
    if remember:
        data["remember"] = "y"
    response = client.post("/connexion", data=data)
    assert response.status_code == 302
    return response


def test_a_session_cookie_captured_before_logout_stops_working_at_once(app, client):
    account = factories.account(app)
    _login(client, account, remember=False)
    captured = _cookies(client)
    assert set(captured) == {"session"} and _logged_in(_client_with(app, captured))
    client.post("/deconnexion")
    assert not _logged_in(client)
    replay = _client_with(app, captured)
    response = replay.get("/compte/")
    assert response.status_code == 302 and "/connexion" in response.headers["Location"]


def test_a_remember_cookie_captured_before_logout_stops_working_too(app, client):
    account = factories.account(app)
    _login(client, account, remember=True)
    captured = _cookies(client)
    assert "remember_token" in captured
    alone = {"remember_token": captured["remember_token"]}  # a browser restarted: only the remember cookie left
    assert _logged_in(_client_with(app, alone))
    client.post("/deconnexion")
    assert not _logged_in(_client_with(app, alone))
    assert not _logged_in(_client_with(app, captured))


def test_the_remember_cookie_lives_as_long_as_the_application_says(app, client):
    account = factories.account(app)
    response = _login(client, account, remember=True)
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("remember_token="))
    expires = next(part.split("=", 1)[1] for part in cookie.split("; ") if part.lower().startswith("expires="))
    expires_at = datetime.strptime(expires, "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=timezone.utc)
    days = app.config["REMEMBER_DAYS"]
    assert days == 14
    now = datetime.now(timezone.utc)
    assert now + timedelta(days=days - 1) < expires_at <= now + timedelta(days=days, minutes=1)
    with app.app_context():
        row = db.session.scalar(select(LoginSession).where(LoginSession.account_id == account.id))
        assert row.remember and row.revoked_at is None
        assert timedelta(days=days - 1) < row.expires_at - row.created_at <= timedelta(days=days)
        # Only the secret's hash is kept: the cookie's secret is nowhere in the database.
        assert len(row.secret_hash) == 64 and row.secret_hash not in _cookies(client).get("remember_token", "")


def test_an_expired_session_record_ends_the_session_whatever_the_cookie_says(app, client):
    account = factories.account(app)
    _login(client, account, remember=True)
    assert _logged_in(client)
    with app.app_context():
        row = db.session.scalar(select(LoginSession).where(LoginSession.account_id == account.id))
        row.expires_at = datetime.now(timezone.utc) - timedelta(seconds=1)
        db.session.commit()
    assert not _logged_in(client)
    assert not _logged_in(_client_with(app, {"remember_token": _cookies(client).get("remember_token", "")}))


def test_a_password_change_ends_the_other_sessions_and_keeps_this_one(app, db):
    account = factories.account(app)
    here, elsewhere = app.test_client(), app.test_client()
    _login(here, account, remember=False)
    _login(elsewhere, account, remember=True)
    response = here.post("/compte/mot-de-passe", data={"pw-current_password": factories.PASSWORD,
                                                        "pw-password": STRONG})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    assert _logged_in(here)
    assert not _logged_in(elsewhere)
    with app.app_context():
        rows = db.session.scalars(select(LoginSession).where(LoginSession.account_id == account.id)
                                  .order_by(LoginSession.id)).all()
        assert [row.revoked_at is None for row in rows] == [True, False]


def test_a_tenant_page_refuses_a_session_that_no_longer_holds(app, client):
    """A tenant page reads the account with its membership in one statement (tenancy.account_with_membership): the
    same rules as any other page — logout, expiry, a password changed elsewhere, a deactivated account."""
    from chorus_chain.models import Account

    account = factories.account(app)
    page = f"/s/{factories.structure(app, account).siret}/aide/"

    def refused(browser) -> bool:
        response = browser.get(page)
        return response.status_code == 302 and "/connexion" in response.headers["Location"]

    def change(what) -> None:
        with app.app_context():
            what(db.session.get(Account, account.id))
            db.session.commit()

    def expire(row: Account) -> None:
        for session_row in db.session.scalars(select(LoginSession).where(LoginSession.account_id == row.id)):
            session_row.expires_at = datetime.now(timezone.utc) - timedelta(seconds=1)

    _login(client, account, remember=False)
    captured = _cookies(client)
    assert client.get(page).status_code == 200
    client.post("/deconnexion")
    assert refused(_client_with(app, captured))
    for end in (expire, lambda row: setattr(row, "session_version", row.session_version + 1),
                lambda row: setattr(row, "activated_at", None)):
        _login(client, account, remember=False)
        assert client.get(page).status_code == 200
        change(end)
        assert refused(client)


def test_a_forged_or_old_style_id_is_no_session(app, client):
    account = factories.account(app)
    for forged in (f"{account.id}:1", f"{account.id}:1:", f"{account.id}:1:guessed", "x:y:z"):
        with client.session_transaction() as session:
            session["_user_id"] = forged
            session["_fresh"] = True
        assert not _logged_in(client), forged


def test_downloads_and_pages_under_a_session_are_never_stored(app, client):
    account = factories.account(app)
    structure = factories.structure(app, account)
    _login(client, account, remember=False)
    for url in ("/compte/", f"/s/{structure.siret}/tableau-de-bord"):
        assert client.get(url).headers["Cache-Control"] == "no-store", url
