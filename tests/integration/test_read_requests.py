"""A request that must not write ends with COMMIT when it wrote nothing (psycopg then keeps the connection's prepared
statements: `read_requests`), and with ROLLBACK as soon as anything may have been written: a statement other than a
plain SELECT (even before a SAVEPOINT), a SELECT that locks rows, a change the session holds, a failed transaction."""
from __future__ import annotations

import pytest
from sqlalchemy import delete, event, func, insert, literal, select, text, update

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
    from chorus_chain.models import Structure

    assert _ending(app, lambda s: s.execute(select(func.count()).select_from(Structure)).scalar()) == "commit"
    assert _ending(app, lambda s: s.scalars(select(Structure).limit(1)).all()) == "commit"
    numbers = select(literal(1).label("n")).cte("numbers")
    assert _ending(app, lambda s: s.execute(select(numbers.c.n)).all()) == "commit"  # a CTE that reads
    assert _ending(app, lambda s: s.execute(read_requests.reads_only(text("SELECT count(*) FROM structure")))
                   .scalar()) == "commit"
    # The tenancy's settings (transaction-local) on every request, and /healthz's probe.
    assert _ending(app, lambda s: s.execute(read_requests.reads_only(
        text("select set_config('chorus.system', 'off', true)")))) == "commit"
    assert app.test_client().get("/healthz").status_code == 200


def test_a_transaction_that_may_have_written_is_rolled_back(app, db):
    from chorus_chain.models import Structure

    def insert_then_read(s):
        s.execute(text("CREATE TEMPORARY TABLE read_requests_probe (n int)"))
        s.execute(text("INSERT INTO read_requests_probe VALUES (1)"))
        s.execute(select(func.count()).select_from(Structure))

    def written_before_a_savepoint(s):
        s.execute(update(Structure).where(Structure.id == -1).values(name="x"))
        with s.begin_nested():
            s.execute(select(Structure.id).limit(1))

    def deleting_cte(s):
        gone = delete(Structure).where(Structure.id == -1).returning(Structure.id).cte("gone")
        s.execute(select(gone.c.id)).all()

    cases = {
        "insert": insert_then_read,
        "savepoint": written_before_a_savepoint,
        "update": lambda s: s.execute(update(Structure).where(Structure.id == -1).values(name="x")),
        "insert core": lambda s: s.execute(insert(Structure).from_select(
            ["siret", "name"], select(Structure.siret, Structure.name).where(Structure.id == -1))),
        "delete in a cte": deleting_cte,
        "for update": lambda s: s.execute(select(Structure.id).with_for_update()).all(),
        "for no key update": lambda s: s.execute(select(Structure.id).with_for_update(key_share=True)).all(),
        "for share": lambda s: s.execute(select(Structure.id).with_for_update(read=True)).all(),
        "orm for update": lambda s: s.scalars(select(Structure).limit(1).with_for_update()).all(),
        "get for update": lambda s: s.get(Structure, -1, with_for_update=True),
        "get for key share": lambda s: s.get(Structure, -2, with_for_update={"read": True, "key_share": True},
                                             populate_existing=True),
        # The same statement again: SQLAlchemy runs its cached compiled form, whose answer `read_requests` kept.
        "for update again": lambda s: s.execute(select(Structure.id).with_for_update()).all(),
        # SQL its author did not mark as reading only, and SQL sent as a string: nothing says they only read.
        "text": lambda s: s.execute(text("SELECT 1")).scalar(),
        "text with": lambda s: s.execute(text("WITH x AS (SELECT 1 AS n) SELECT n FROM x")).all(),
        "driver sql": lambda s: s.connection().exec_driver_sql("SELECT 1").scalar(),
    }
    for name, work in cases.items():
        assert _ending(app, work) == "rollback", name
    # The plain SELECT of a locking one stays a read (the answer is kept per compiled statement, not per table).
    assert _ending(app, lambda s: s.execute(select(Structure.id)).all()) == "commit"


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


def test_the_dashboards_pages_run_no_statement_that_may_write(app, db):
    """What the read model was built for keeps its prepared statements: every statement of the Synthèse, the Tableau
    de bord (filtered, sorted) and /healthz is one that only reads (the savepoints are the tests' own harness)."""
    from tests.integration import pieces_world as pw

    w = pw.world(app)
    pw.deposit(app, w, w.st1, "A10", "RR-1")
    client = pw.logged_in(app, w.mandataire)
    base = f"/s/{w.mandataire.siret}"
    writes = []

    def spy(connection, cursor, statement, parameters, context, executemany):
        if read_requests.may_write(context, executemany):
            writes.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", spy)
    try:
        for path in (f"{base}/synthese", f"{base}/tableau-de-bord", f"{base}/tableau-de-bord?status=A_VALIDER_1",
                     f"{base}/tableau-de-bord?tri=-montant&number=RR", "/healthz"):
            assert client.get(path).status_code == 200, path
    finally:
        event.remove(engine, "before_cursor_execute", spy)
    assert writes == []
