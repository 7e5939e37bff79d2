"""Degraded but safe (degraded.py): without Redis login works and /healthz says what is down; without the database the
user gets a French 503 page; every error page says only what is known about the user's action."""
from __future__ import annotations

import html
import socket

import pytest
from sqlalchemy.exc import OperationalError

from tests import factories

DEAD_REDIS = "redis://127.0.0.1:6390/0"  # nothing listens there
PASSWORD = "une phrase assez longue 2026"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _app(**config):
    from chorus_chain import create_app

    base = {"TESTING": True, "WTF_CSRF_ENABLED": False, "SESSION_COOKIE_SECURE": False,
            "REMEMBER_COOKIE_SECURE": False, "SERVER_NAME": "localhost", "BASE_URL": "http://localhost",
            "PROPAGATE_EXCEPTIONS": False}
    return create_app({**base, **config})


@pytest.mark.redis
def test_login_works_while_redis_is_down(app, db):
    """The rate limiter's storage is Redis: down, it falls back to memory instead of answering 500."""
    factories.account(app, email="sans-redis@exemple.fr", password=PASSWORD)
    degraded_app = _app(SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"], SQLALCHEMY_ENGINE_OPTIONS={},
                        REDIS_URL=DEAD_REDIS, RATELIMIT_STORAGE_URI=DEAD_REDIS, LOGIN_RATE_LIMIT="3 per minute")
    client = degraded_app.test_client()
    response = client.post("/connexion", data={"email": "sans-redis@exemple.fr", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/compte/structures").status_code == 200
    # Still limited (in memory): the fourth wrong try in a minute is refused.
    codes = [client.post("/connexion", data={"email": "sans-redis@exemple.fr", "password": "faux mot de passe 1"}
                         ).status_code for _ in range(4)]
    assert codes[-1] == 429
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.get_json()["down"] == ["redis"] and health.get_json()["checks"]["database"]["ok"] is True


def test_without_the_database_every_page_answers_in_french():
    dead = _app(SQLALCHEMY_DATABASE_URI=f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/absente",
                SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"connect_timeout": 2}}, REDIS_URL=None)
    client = dead.test_client()
    response = client.post("/connexion", data={"email": "quelqu.un@exemple.fr", "password": PASSWORD})
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 503
    assert "Service momentanément indisponible" in page and "La base de données de chorus-chain ne répond pas" in page
    assert "Votre action n'a pas été enregistrée." in page  # known: it failed before any commit
    assert "Internal Server Error" not in page and "Rien n'a été enregistré" not in page
    fragment = client.post("/connexion", data={"email": "x@exemple.fr", "password": PASSWORD},
                           headers={"HX-Request": "true"})
    assert fragment.status_code == 503 and fragment.headers["HX-Retarget"] == "#messages"
    assert "ne répond pas" in html.unescape(fragment.get_data(as_text=True))
    health = client.get("/healthz")
    assert health.status_code == 503 and health.get_json()["down"] == ["database"]
    # A logged-in user: even the error page's layout cannot load them; a plain French page, nothing English.
    with client.session_transaction() as session:
        session["_user_id"] = "1:0:un-secret"  # a login session id (account:version:secret): read from the database
    response = client.get("/compte/structures")
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 503 and '<html lang="fr">' in page and "ne répond pas" in page
    assert "Internal Server Error" not in page and response.headers["Cache-Control"] == "no-store"


def test_a_commit_that_fails_says_the_outcome_is_unknown(app, db, client, monkeypatch):
    from chorus_chain.extensions import db as database

    def lost(*args, **kwargs):
        raise OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(database.session, "commit", lost)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    response = client.post("/inscription", data={"first_name": "Léa", "last_name": "Commit",
                                                 "email": "commit@exemple.fr", "password": PASSWORD})
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 503
    assert "Nous ne savons pas si votre action a été enregistrée" in page
    assert "n'a pas été enregistrée." not in page


def test_an_unexpected_error_says_only_what_is_known(app, db, client, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    monkeypatch.setitem(app.view_functions, "core.home", broken)
    reading = html.unescape(client.get("/").get_data(as_text=True))
    assert "Une erreur inattendue s'est produite." in reading and "enregistr" not in reading  # a read saved nothing
    monkeypatch.setitem(app.view_functions, "auth.signup", broken)
    writing = client.post("/inscription", data={"email": "bug@exemple.fr"})
    assert writing.status_code == 500
    assert "Votre action n'a pas été enregistrée." in html.unescape(writing.get_data(as_text=True))
