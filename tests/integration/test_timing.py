"""CHORUS_TIMING=1 (chorus_chain/timing.py): every answer says what it cost the server, for bench/dashboards.py.

Off by default; on, the figures are the request's own (statements counted from zero at each request, the commit
included), and the benchmark's reader reads back what the header wrote.
"""
from __future__ import annotations

import os

from chorus_chain import create_app, timing
from tests.conftest import TEST_SETTINGS


def test_header_round_trip():
    value = timing.server_timing(cpu=0.0123, db=0.0041, statements=23, total=0.0405, worker=4121)
    assert value == 'cpu;dur=12.3, db;dur=4.1, sql;desc="23";dur=23, total;dur=40.5, worker;desc="4121"'
    assert timing.parse(value) == {"cpu": 12.3, "db": 4.1, "sql": 23.0, "total": 40.5}
    assert timing.worker_of(value) == 4121
    assert timing.parse(None) == {} and timing.parse("cache;desc=hit") == {}
    assert timing.worker_of(None) is None and timing.worker_of("cpu;dur=1.0") is None


def test_off_by_default(client):
    assert "Server-Timing" not in client.get("/healthz").headers


def test_each_answer_carries_its_own_cost(app, database_url):  # `app`: the database migrated
    timed = create_app({**TEST_SETTINGS, "SQLALCHEMY_DATABASE_URI": database_url, "CHORUS_TIMING": True})
    client = timed.test_client()

    first = timing.parse(client.get("/healthz").headers.get("Server-Timing"))
    assert set(first) == {"cpu", "db", "sql", "total"}
    assert first["sql"] >= 1 and first["cpu"] >= 0 and first["db"] >= 0 and first["total"] > 0
    again = timing.parse(client.get("/healthz").headers.get("Server-Timing"))
    assert again["sql"] == first["sql"]  # counted per request, not since the process started
    # Which process served it: a benchmark's clients split between gunicorn's workers by their connections.
    assert timing.worker_of(client.get("/healthz").headers.get("Server-Timing")) == os.getpid()
    assert "Server-Timing" in client.get("/connexion").headers  # pages too, not only the health check
