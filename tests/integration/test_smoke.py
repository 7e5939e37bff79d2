import pytest

from tests import factories


def test_healthz_reports_database_and_redis(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True


def test_home_and_security_headers(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "Suivez votre argent" in response.get_data(as_text=True)
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "HX-Request" in response.headers["Vary"]


def test_login_and_structure_page(app, client):
    acc = factories.account(app)
    s = factories.structure(app, acc, name="Durand Bâtiment")
    factories.login(client, acc)
    page = client.get(f"/s/{s.siret}/")
    assert page.status_code == 200
    assert "Durand Bâtiment" in page.get_data(as_text=True)


@pytest.mark.postgres
def test_postgresql_connections_run_without_jit_and_with_custom_plans(app):
    """The RLS policies would make PostgreSQL JIT-compile our short queries, and a kept prepared statement could
    switch to one generic plan for structures of very different sizes (see extensions.tune_postgresql)."""
    from sqlalchemy import text

    from chorus_chain.extensions import db

    with app.app_context():
        engine = db.engine
        with engine.connect() as connection:
            assert connection.execute(text("SHOW jit")).scalar() == "off"
            assert connection.execute(text("SHOW plan_cache_mode")).scalar() == "force_custom_plan"
