"""Test set-up: the real PostgreSQL and Redis when present (always under CI=true), one transaction per test.

- PostgreSQL: each xdist worker gets its own database (chorus_test_gw0, ...), migrated with the real Alembic
  migrations once per session. Without PostgreSQL (and outside CI), the suite runs on SQLite and the tests marked
  `postgres` are skipped, saying why.
- Every test runs inside one outer transaction that is rolled back at the end; the application's commits only
  release a SAVEPOINT inside it.
"""
from __future__ import annotations

import os
import re

import pytest

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")


def _worker() -> str:
    """This test process's name, used for its own databases: the xdist worker, behind CHORUS_TEST_NAMESPACE when set
    (several checkouts of the repository can then run their suites side by side on one PostgreSQL and Redis)."""
    return os.environ.get("CHORUS_TEST_NAMESPACE", "") + os.environ.get("PYTEST_XDIST_WORKER", "gw0")


def _postgres_available() -> str | None:
    """None when PostgreSQL answers, else the reason it does not."""
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # report why, skip or fail below
        return f"PostgreSQL unreachable at {PG_ADMIN_URL}: {type(exc).__name__}"


def _redis_available() -> str | None:
    try:
        from redis import Redis

        Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
        return None
    except Exception as exc:
        return f"Redis unreachable at {REDIS_URL}: {type(exc).__name__}"


PG_PROBLEM = _postgres_available()
REDIS_PROBLEM = _redis_available()
if IN_CI and (PG_PROBLEM or REDIS_PROBLEM):
    raise pytest.UsageError(f"CI needs the real services: {PG_PROBLEM or ''} {REDIS_PROBLEM or ''}".strip())


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "postgres" in item.keywords and PG_PROBLEM:
            item.add_marker(pytest.mark.skip(reason=PG_PROBLEM))
        if "redis" in item.keywords and REDIS_PROBLEM:
            item.add_marker(pytest.mark.skip(reason=REDIS_PROBLEM))


# The application connects as an ordinary role that owns its database, as in production: a superuser would bypass
# row-level security and hide its bugs.
APP_ROLE = "chorus_app"


def create_postgres_database(prefix: str) -> str:
    """A fresh database owned by APP_ROLE; returns the URL the application uses (as APP_ROLE)."""
    from sqlalchemy import create_engine, text

    name = f"{prefix}_{re.sub(r'[^a-z0-9]', '', _worker().lower())}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": APP_ROLE}).scalar()
        if not exists:
            try:
                conn.execute(text(f"CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS"))
            except Exception:  # another worker created it at the same instant
                pass
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}" OWNER {APP_ROLE}'))
    admin.dispose()
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("://postgres@", f"://{APP_ROLE}@")
    return f"{base}/{name}"


def live_application(prefix: str, config: dict | None = None):
    """An application on a database of its own (`prefix`), migrated, with no outer transaction: commits are real.
    A generator for module-scoped fixtures of the tests that need several connections at once (row locks), or that
    make thousands of requests (one outer transaction would hold a lock per savepoint that wrote, beyond PostgreSQL's
    lock table: « out of shared memory »); the database is dropped afterwards. `config` adds to the test settings."""
    if PG_PROBLEM:
        pytest.skip(PG_PROBLEM)
    from flask_migrate import upgrade
    from sqlalchemy import create_engine, text

    from chorus_chain import create_app
    from chorus_chain.extensions import db

    url = create_postgres_database(prefix)
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SQLALCHEMY_ENGINE_OPTIONS": {},
                      "REDIS_URL": None, "SERVER_NAME": "localhost", "BASE_URL": "http://localhost",
                      **(config or {})})
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        db.engine.dispose()
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


def _prepare_postgres() -> str:
    return create_postgres_database("chorus_test")


def _prepare_sqlite(tmp_path_factory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    return _prepare_sqlite(tmp_path_factory) if PG_PROBLEM else _prepare_postgres()


@pytest.fixture(scope="session")
def app(database_url):
    from flask_migrate import upgrade

    from chorus_chain import create_app

    app = create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {},
        "WTF_CSRF_ENABLED": False,  # enabled by the `csrf` fixture, and in the CSRF tests
        "LOGIN_RATE_LIMIT": "10000 per minute",  # the rate-limit test sets the real one
        "REDIS_URL": None,  # jobs inline; the queue tests set it
        "SESSION_COOKIE_SECURE": False,  # the test client speaks plain http
        "REMEMBER_COOKIE_SECURE": False,
        "OUTBOX_PAGE": True,
        "SERVER_NAME": "localhost",
        "BASE_URL": "http://localhost",
    })
    with app.app_context():
        upgrade()
    return app


@pytest.fixture
def db(app):
    """One outer transaction per test, rolled back at the end; the app's commits release savepoints."""
    from flask_sqlalchemy.session import Session

    from chorus_chain.extensions import db as database

    class BoundSession(Session):
        def get_bind(self, *args, **kwargs):
            return self.bind

    # No app context is held while the test runs: each request pushes its own (its own `g`, its own session),
    # as in production; all sessions share the test's connection and its outer transaction.
    with app.app_context():
        connection = database.engine.connect()
    outer = connection.begin()
    original = database.session
    database.session = database._make_scoped_session(
        {"bind": connection, "class_": BoundSession, "join_transaction_mode": "create_savepoint"})
    try:
        yield database
    finally:
        with app.app_context():
            database.session.remove()
        database.session = original
        outer.rollback()
        connection.close()


@pytest.fixture
def client(app, db):
    return app.test_client()


@pytest.fixture
def csrf(app):
    app.config["WTF_CSRF_ENABLED"] = True
    yield
    app.config["WTF_CSRF_ENABLED"] = False


@pytest.fixture
def ctx(app, db):
    """An app context for calling operations directly (inside the test's transaction)."""
    with app.test_request_context():
        yield
