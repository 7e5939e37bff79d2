"""Transitions on different pieces of the same structure, at the same time, on real connections (PostgreSQL): the
read model's maintenance never makes one wait for the other — its rows are per (structure, piece), its rollups are
inserted deltas, never a shared counter row (board_count's and the coarser rollups' alike: « Par statut », « Par
marché », the companies) — and never deadlocks. The evidence is not a timing: a transaction that
already wrote its board rows and deltas is held open while another one, on another piece of the same structure and
the same rollup bucket, runs to its commit; nothing is left waiting in pg_locks."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from chorus_chain import access
from chorus_chain.extensions import db
from chorus_chain.models import Account, Structure
from chorus_chain.operations import board
from chorus_chain.operations import pieces as ops
from tests.conftest import live_application
from tests.integration.pieces_world import assert_board_exact, deposit, later, status_of, world

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def live_app():
    yield from live_application("chorus_board_live")


def _validate(app, who, piece_id, *, before_commit=None):
    with app.app_context(), access.tenant(who.structure_id):
        account = db.session.get(Account, who.account_id)
        structure = db.session.get(Structure, who.structure_id)
        ops.act(piece_id, account, structure, "validate", expected_status="A_VALIDER_1", now=later(1))
        board.flush_pending()  # the board rows and the deltas are written now, in this transaction
        if before_commit:
            before_commit()
        db.session.commit()


def _waiting_locks(app) -> list:
    """Lock requests not granted in this database (another connection, outside every tenant: pg_locks is not a
    tenant table)."""
    with app.app_context():
        with db.engine.connect() as connection:
            return connection.execute(text(
                "SELECT locktype, relation::regclass::text, mode FROM pg_locks "
                "WHERE NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )).all()


def test_a_transition_never_waits_for_another_on_the_same_structure(live_app):
    app = live_app
    w = world(app)
    first = deposit(app, w, w.st1, "A10", "F-1")
    second = deposit(app, w, w.st1, "A10", "F-2")  # same emitter, validator, marché, cadre, status: same bucket
    written, release, done = threading.Event(), threading.Event(), threading.Event()
    errors: list = []

    def hold_open():
        try:
            _validate(app, w.mandataire, first, before_commit=lambda: (written.set(), release.wait(60)))
        except Exception as error:
            errors.append(error)
            written.set()

    def other():
        try:
            _validate(app, w.mandataire, second)
        except Exception as error:
            errors.append(error)
        done.set()

    holder = threading.Thread(target=hold_open)
    holder.start()
    assert written.wait(60)
    runner = threading.Thread(target=other)
    runner.start()
    # The second transaction commits while the first still holds everything it wrote (rows, deltas, its piece).
    finished = done.wait(60)
    waiting = _waiting_locks(app)
    release.set()
    holder.join(60)
    runner.join(60)
    assert errors == []
    assert finished, f"the second transition waited on the first: {waiting}"
    assert waiting == []
    assert status_of(app, first) == status_of(app, second) == "A_ASSOCIER_MOE"
    # Both wrote into the same key of each coarser rollup, each its own row (inserts, not one counter updated).
    with app.app_context(), access.system_access("test: the deltas of both transactions"):
        for table, where in (("board_status_count", "status = 'A_ASSOCIER_MOE'"),
                             ("board_marche_count", "marche_id = :m"),
                             ("board_status_marche_count", "status = 'A_ASSOCIER_MOE' AND marche_id = :m"),
                             ("board_cadre_marche_count", "status = 'A_ASSOCIER_MOE' AND marche_id = :m"),
                             ("board_party_count", "marche_id = :m AND emitter_party_id = :p")):
            rows = db.session.execute(text(f"SELECT count(*) FROM {table} WHERE structure_id = :s AND {where}"),
                                      {"s": w.mandataire.structure_id, "m": w.marche_id,
                                       "p": w.st1.party_id}).scalar()
            assert rows >= 2, table
        db.session.rollback()
    assert_board_exact(app)


def test_many_transitions_at_once_on_one_structure_neither_deadlock_nor_drift(live_app):
    app = live_app
    w = world(app)
    pieces = [deposit(app, w, w.st1, "A10", f"G-{n}") for n in range(6)]
    barrier = threading.Barrier(len(pieces), timeout=60)  # broken (an error) if one waited on another
    errors: list = []

    def run(piece_id):
        try:
            _validate(app, w.mandataire, piece_id, before_commit=barrier.wait)  # all written, then all commit
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(piece_id,)) for piece_id in pieces]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    # Every transaction wrote its rows and deltas before any committed (the barrier): none waited on another.
    assert errors == []
    assert {status_of(app, piece_id) for piece_id in pieces} == {"A_ASSOCIER_MOE"}
    assert_board_exact(app)
