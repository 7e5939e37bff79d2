"""A request that must not write ends with COMMIT when it wrote nothing (psycopg then keeps the connection's prepared
statements: `read_requests`), and with ROLLBACK as soon as anything may have been written: a statement other than a
plain SELECT (even before a SAVEPOINT), a SELECT that locks rows, a change the session holds, a failed transaction."""
from __future__ import annotations

import pytest
from sqlalchemy import event, text

from chorus_chain import read_requests
from chorus_chain.extensions import db

pytestmark = pytest.mark.postgres


def _ending(app, work) -> str:
    """How `read_requests.end` ends a transaction in which `work(session)` ran: "commit" or "rollback". The mark is
    cleared as the outermost transaction's `begin` clears it (the tests run inside one outer transaction)."""
    ended = []
    with app.test_request_context("/"):
        session = db.session()
        session.connection().info[read_requests.WROTE] = False
        listeners = [(session, "after_commit", lambda s: ended.append("commit")),
                     (session, "after_rollback", lambda s: ended.append("rollback"))]
        for target, name, listener in listeners:
            event.listen(target, name, listener)
        try:
            work(session)
            read_requests.end(session)
        finally:
            for target, name, listener in listeners:
                event.remove(target, name, listener)
    return ended[-1] if ended else "nothing"  # the last: a SAVEPOINT released inside says "commit" too


def test_a_transaction_that_only_read_is_committed(app, db):
    assert _ending(app, lambda s: s.execute(text("SELECT count(*) FROM structure")).scalar()) == "commit"
    assert _ending(app, lambda s: s.execute(text("select set_config('chorus.system', 'off', true)"))) == "commit"


def test_a_transaction_that_may_have_written_is_rolled_back(app, db):
    def insert_then_read(s):
        s.execute(text("CREATE TEMPORARY TABLE read_requests_probe (n int)"))
        s.execute(text("INSERT INTO read_requests_probe VALUES (1)"))
        s.execute(text("SELECT 1"))

    def written_before_a_savepoint(s):
        s.execute(text("CREATE TEMPORARY TABLE read_requests_probe2 (n int)"))
        with s.begin_nested():
            s.execute(text("SELECT 1"))

    cases = {
        "insert": insert_then_read,
        "savepoint": written_before_a_savepoint,
        "with": lambda s: s.execute(text("WITH x AS (SELECT 1 AS n) SELECT n FROM x")).all(),
        "for update": lambda s: s.execute(text("SELECT id FROM structure FOR UPDATE")).all(),
        "for share": lambda s: s.execute(text("select id from structure for no key update")).all(),
    }
    for name, work in cases.items():
        assert _ending(app, work) == "rollback", name


def test_changes_the_session_holds_or_a_failed_transaction_are_rolled_back(app, db):
    from chorus_chain.models import Structure

    def pending(s):
        s.add(Structure(siret="99999999900013", name="Jamais enregistrée"))

    def failed(s):
        try:
            s.connection().exec_driver_sql("SELECT 1/0")
        except Exception:
            pass

    assert _ending(app, pending) == "rollback"
    assert _ending(app, failed) == "rollback"


def test_it_can_be_turned_off(app, db):
    app.config["KEEP_PREPARED_STATEMENTS"] = False
    try:
        assert _ending(app, lambda s: s.execute(text("SELECT 1")).scalar()) == "rollback"
    finally:
        app.config["KEEP_PREPARED_STATEMENTS"] = True


def test_a_page_ends_through_it_and_a_refused_form_does_not(app, db, monkeypatch):
    """`web._finish_transaction` hands a successful read to `read_requests.end`; a refusal (4xx) is rolled back."""
    calls = []
    real = read_requests.end
    monkeypatch.setattr(read_requests, "end", lambda session: (calls.append(session), real(session)))
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    assert len(calls) == 1
    assert client.get("/aide/no-such-article").status_code == 404
    assert len(calls) == 1
