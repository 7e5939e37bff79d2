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
from hypothesis import settings

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
# Tests change events and read forecasts at once: no habits kept between requests (test_tresorerie_habits_cache
# turns the cache on with its own clock).
os.environ.setdefault("HABITS_CACHE_SECONDS", "0")

# No timed tests (speed is measured by bench/): hypothesis's per-example deadline (200 ms) failed property tests on
# a loaded machine (test_charts' bars, 3 000 examples without a counterexample once the deadline was off).
settings.register_profile("chorus", deadline=None)
settings.load_profile("chorus")

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


def _admin_engine():
    from sqlalchemy import create_engine

    return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")


def _ensure_app_role(conn) -> None:
    from sqlalchemy import text

    exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": APP_ROLE}).scalar()
    if not exists:
        try:
            conn.execute(text(f"CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS"))
        except Exception:  # another worker created it at the same instant
            pass


def _app_url(name: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("://postgres@", f"://{APP_ROLE}@")
    return f"{base}/{name}"


def create_postgres_database(prefix: str, template: str | None = None) -> str:
    """A fresh database owned by APP_ROLE; returns the URL the application uses (as APP_ROLE). With `template`, a
    copy of that database (PostgreSQL copies its files: a fraction of a second, where migrating and seeding the demo
    take tens of seconds); roles, grants and row-level security policies carry over (roles are the cluster's)."""
    from sqlalchemy import text

    name = f"{prefix}_{re.sub(r'[^a-z0-9]', '', _worker().lower())}"
    admin = _admin_engine()
    with admin.connect() as conn:
        _ensure_app_role(conn)
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        copy = f' TEMPLATE "{template}"' if template else ""
        conn.execute(text(f'CREATE DATABASE "{name}"{copy} OWNER {APP_ROLE}'))
    admin.dispose()
    return _app_url(name)


def drop_postgres_database(url: str) -> None:
    from sqlalchemy import text

    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


# ---------------------------------------------------------------------------------------------------------------------
# The demo, seeded once per test run into a template database
#
# Many modules start from the demo as `flask demo seed` leaves it (the browser tests, the hostile suites, the visibility
# and fuzz walks). Seeding it is tens of seconds (the companies, the marché, the pieces, the états and their five PDFs
# rendered); copying a database is a fraction of a second. So the first worker of a run that needs it migrates and
# seeds one database under a file lock shared by the run's xdist workers, and every module gets a copy
# (`CREATE DATABASE … TEMPLATE …`): each still starts from the demo as the README's reader finds it.
#
# PostgreSQL copies a template only while nobody is connected to it: the seeding's engine is disposed before the lock
# is released, and nothing else ever connects to the template. Its dates follow the instant it was seeded (the demo's
# story is written relative to it), minutes before a module uses it: the demo's clocks are counted in days.

DEMO_TEMPLATE_PREFIX = "chorus_demo_template"
# The settings the demo is seeded under, as the browser tests' live server and `flask demo seed` run it: jobs inline.
DEMO_SEED_SETTINGS = {"SQLALCHEMY_ENGINE_OPTIONS": {}, "REDIS_URL": None}


def seed_demo(app) -> None:
    """Migrate and seed the demo as `flask demo seed` does, in `app`'s database: the états' PDFs the seeding queued
    are rendered now (not by the first request, which would run them inline)."""
    from flask_migrate import upgrade

    from chorus_chain import demo
    from chorus_chain.extensions import db
    from chorus_chain.jobs.queue import dispatch_outbox

    with app.app_context():
        upgrade()
        demo.seed()
        db.session.commit()
        dispatch_outbox()


def _seed_demo_template(name: str) -> None:
    from sqlalchemy import text

    from chorus_chain import create_app
    from chorus_chain.extensions import db

    admin = _admin_engine()
    with admin.connect() as conn:
        _ensure_app_role(conn)
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}" OWNER {APP_ROLE}'))
    admin.dispose()
    app = create_app({**DEMO_SEED_SETTINGS, "SQLALCHEMY_DATABASE_URI": _app_url(name)})
    seed_demo(app)
    with app.app_context():
        db.engine.dispose()  # no connection may stay on a template


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory, worker_id) -> str | None:
    """The name of the run's demo template database (None without PostgreSQL: each module seeds its own SQLite
    file). Made once per run: the xdist workers of one run share `getbasetemp().parent`, where the lock and the mark
    that it is done live; a new run makes it again from the code as it is now."""
    if PG_PROBLEM:
        return None
    import fcntl

    name = f"{DEMO_TEMPLATE_PREFIX}_{re.sub(r'[^a-z0-9]', '', os.environ.get('CHORUS_TEST_NAMESPACE', '').lower())}"
    shared = tmp_path_factory.getbasetemp() if worker_id == "master" else tmp_path_factory.getbasetemp().parent
    done = shared / f"{name}.done"
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not done.exists():
                _seed_demo_template(name)
                done.write_text("seeded\n")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return name


def ensure_demo() -> None:
    """In an app context: the demo, as `flask demo seed` leaves it. Already there on `demo_app`'s database (a copy of
    the template); on any other, seeded now (inside the test's transaction when under `db`)."""
    from sqlalchemy import select

    from chorus_chain import demo
    from chorus_chain.extensions import db
    from chorus_chain.models import Marche

    if db.session.scalar(select(Marche.id).where(Marche.reference == demo.DEMO_MARCHE)) is None:
        demo.seed()
        db.session.commit()


def demo_database(prefix: str, template: str | None, tmp_path_factory) -> str:
    """A database of its own holding the demo, for one module: a copy of the run's template on PostgreSQL, else a
    SQLite file migrated and seeded here."""
    if template is not None:
        return create_postgres_database(prefix, template=template)
    from chorus_chain import create_app
    from chorus_chain.extensions import db

    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / f'{prefix}.db'}"
    app = create_app({**DEMO_SEED_SETTINGS, "SQLALCHEMY_DATABASE_URI": url})
    seed_demo(app)
    with app.app_context():
        db.engine.dispose()
    return url


def live_application(prefix: str, config: dict | None = None, *, template: str | None = None):
    """An application on a database of its own (`prefix`), migrated, with no outer transaction: commits are real.
    A generator for module-scoped fixtures of the tests that need several connections at once (row locks), or that
    make thousands of requests (one outer transaction would hold a lock per savepoint that wrote, beyond PostgreSQL's
    lock table: « out of shared memory »); the database is dropped afterwards. `config` adds to the test settings;
    `template`: the database starts as a copy of it (`demo_template`: the demo, seeded)."""
    if PG_PROBLEM:
        pytest.skip(PG_PROBLEM)
    from flask_migrate import upgrade

    from chorus_chain import create_app
    from chorus_chain.extensions import db

    url = create_postgres_database(prefix, template=template)
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SQLALCHEMY_ENGINE_OPTIONS": {},
                      "REDIS_URL": None, "SERVER_NAME": "localhost", "BASE_URL": "http://localhost",
                      **(config or {})})
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        db.engine.dispose()
    drop_postgres_database(url)


def _prepare_postgres() -> str:
    return create_postgres_database("chorus_test")


def _prepare_sqlite(tmp_path_factory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    return _prepare_sqlite(tmp_path_factory) if PG_PROBLEM else _prepare_postgres()


# The settings of the test application (`app`, and `demo_app` for the modules that start from the demo).
TEST_SETTINGS = {
    "TESTING": True,
    "SQLALCHEMY_ENGINE_OPTIONS": {},
    "WTF_CSRF_ENABLED": False,  # enabled by the `csrf` fixture, and in the CSRF tests
    "LOGIN_RATE_LIMIT": "10000 per minute",  # the rate-limit test sets the real one
    "REDIS_URL": None,  # jobs inline; the queue tests set it
    "SESSION_COOKIE_SECURE": False,  # the test client speaks plain http
    "REMEMBER_COOKIE_SECURE": False,
    "OUTBOX_PAGE": True,
    "SERVER_NAME": "localhost",
    "BASE_URL": "http://localhost",
    # One sweeper in the clock's tick: a test's outer transaction is one connection, which sweepers in threads of
    # their own (jobs.sweepers, on their own connections) would not see. The live databases' tests run two.
    "CLOCK_SWEEPERS": 1,
}


def make_test_app(database_url: str):
    from flask_migrate import upgrade

    from chorus_chain import create_app

    app = create_app({**TEST_SETTINGS, "SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context():
        upgrade()
    return app


@pytest.fixture(scope="session")
def app(database_url):
    return make_test_app(database_url)


@pytest.fixture(scope="module")
def demo_app(request, demo_template, tmp_path_factory):
    """The test application on a database of this module's own holding the demo (a copy of the run's template). A
    module that reads the demo says so by overriding `app`:

        @pytest.fixture(scope="module")
        def app(demo_app):
            return demo_app

    `db`, `client`… then use it; `db` still wraps each test in a transaction rolled back, so every test of the
    module starts from the demo as seeded."""
    from chorus_chain.extensions import db

    module = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")[:24]
    url = demo_database(f"chorus_demo_{module}", demo_template, tmp_path_factory)
    app = make_test_app(url)
    yield app
    with app.app_context():
        db.engine.dispose()
    if demo_template is not None:
        drop_postgres_database(url)


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
