"""What only committed transactions on separate connections can show (PostgreSQL): two users acting on the same piece
at the same instant, the same draft sent twice at once, two sweepers at once, a sweep that crashed, and `flask audit
verify` catching a row tampered with by a superuser (the application's role cannot: the triggers refuse it).

These tests run on their own database (created for the module, dropped after), where every operation commits for
real, like in production."""
from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, select, text

from chorus_chain import access
from chorus_chain.extensions import db
from chorus_chain.models import Account, Deadline, Piece, PieceAccess, PieceEvent, Structure
from chorus_chain.operations import OperationError
from chorus_chain.operations import pieces as ops
from tests.conftest import PG_ADMIN_URL, live_application
from tests.integration.pieces_world import NOW, act, count, create, deposit, draft_form, later, status_of, world

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def live_app():
    """The application on its own database, migrated; no outer transaction: commits are real."""
    yield from live_application("chorus_pieces_live")


def at_once(*calls):
    """Run the callables in threads released together; returns their results (or the exceptions they raised)."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        barrier.wait()
        try:
            results[index] = call()
        except Exception as error:  # reported to the test
            results[index] = error

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def acting_call(app, who, fn):
    """A callable running `fn(account, structure)` in its own app context (its own session and connection) as
    `who`, committing like a request that succeeded."""
    def call():
        with app.app_context(), access.tenant(who.structure_id):
            account = db.session.get(Account, who.account_id)
            structure = db.session.get(Structure, who.structure_id)
            result = fn(account, structure)
            db.session.commit()
            return result
    return call


def test_two_users_act_on_the_same_piece_at_the_same_instant(live_app):
    app = live_app
    w = world(app)
    piece_id = deposit(app, w, w.st1, "A10", "F-1")

    def validate(account, structure):
        return ops.act(piece_id, account, structure, "validate", expected_status="A_VALIDER_1", now=later(1)).status

    def refuse(account, structure):
        return ops.act(piece_id, account, structure, "refuse", expected_status="A_VALIDER_1", reason="non_conforme",
                       now=later(1)).status

    # Two members of the validator's structure, two connections, the same instant.
    results = at_once(acting_call(app, w.mandataire, validate), acting_call(app, w.mandataire, refuse))
    changed = [r for r in results if isinstance(r, str)]
    refused = [r for r in results if isinstance(r, OperationError)]
    assert len(changed) == 1 and len(refused) == 1, results
    assert "a déjà été traitée (statut actuel :" in refused[0].message and "Rechargez la page" in refused[0].message
    assert status_of(app, piece_id) == changed[0]
    assert count(app, PieceEvent, PieceEvent.piece_id == piece_id,
                 PieceEvent.action.in_(["validate", "refuse"])) == 1


def test_the_same_draft_sent_twice_at_once_is_deposited_once(live_app):
    app = live_app
    w = world(app)
    piece_id = create(app, w, w.st1, "A10", "F-1")

    def send(account, structure):
        return ops.deposit(piece_id, account, structure, now=NOW).status

    results = at_once(acting_call(app, w.st1, send), acting_call(app, w.st1, send))
    assert sorted(type(r).__name__ for r in results) == ["OperationError", "str"], results
    assert "déjà été envoyée" in next(r for r in results if isinstance(r, OperationError)).message
    assert count(app, PieceEvent, PieceEvent.piece_id == piece_id, PieceEvent.action == "deposit") == 1
    assert count(app, Deadline, Deadline.piece_id == piece_id, Deadline.kind == "validation_1") == 1
    assert count(app, PieceAccess, PieceAccess.piece_id == piece_id) == 4  # emitter, mandataire, MOE, MOA


def test_two_drafts_with_the_same_number_at_once(live_app):
    app = live_app
    w = world(app)
    form = draft_form(app, w, w.st1, "A10", "F-SAME")

    def save(account, structure):
        return ops.create_draft(account, structure, w.marche_id, form, now=NOW).id

    results = at_once(acting_call(app, w.st1, save), acting_call(app, w.st1, save))
    errors = [r for r in results if isinstance(r, OperationError)]
    assert len(errors) == 1 and errors[0].field == "number", results
    assert count(app, Piece, Piece.emitter_structure_id == w.st1.structure_id) == 1


def _sweeper(app, now):
    from chorus_chain.operations.deadlines import sweep

    def call():
        with app.app_context():
            result = sweep(now)
            db.session.commit()
            return result
    return call


def test_two_sweepers_at_once_apply_each_deadline_exactly_once(live_app):
    app = live_app
    w = world(app)
    pieces = [deposit(app, w, who, "A10", f"T-{i}") for i, who in enumerate((w.st1, w.sibling, w.st_co))]
    due = NOW + timedelta(days=15)
    results = at_once(_sweeper(app, due), _sweeper(app, due))
    assert not [r for r in results if isinstance(r, Exception)], results
    with app.app_context(), access.system_access("test: checking the sweep"):
        mine = db.session.scalars(select(Deadline).where(Deadline.piece_id.in_(pieces),
                                                         Deadline.kind == "validation_1")).all()
        assert all(d.done_at == due for d in mine) and len(mine) == 3
        tacit = db.session.scalars(select(PieceEvent.piece_id).where(
            PieceEvent.piece_id.in_(pieces), PieceEvent.action == "tacit_validation")).all()
    assert sorted(tacit) == sorted(pieces)  # once each
    # Between them, the two sweepers applied the three (and whatever else this database had due).
    assert sum(r["applied"] for r in results) >= 3


def test_a_sweep_that_crashed_is_applied_by_the_next_one(live_app):
    from chorus_chain.operations.deadlines import sweep

    app = live_app
    w = world(app)
    piece_id = deposit(app, w, w.st1, "A10", "F-1")
    due = NOW + timedelta(days=15)
    with app.app_context():
        assert sweep(due)["applied"] >= 1
        db.session.rollback()  # the worker died before its commit
    assert status_of(app, piece_id) == "A_VALIDER_1"
    with app.app_context():
        sweep(due + timedelta(minutes=5))
        db.session.commit()
    assert status_of(app, piece_id) == "A_ASSOCIER_MOE"
    assert count(app, PieceEvent, PieceEvent.piece_id == piece_id, PieceEvent.action == "tacit_validation") == 1


def test_the_sweep_skips_a_piece_a_user_holds_and_applies_it_later(live_app):
    from chorus_chain.operations.deadlines import sweep

    app = live_app
    w = world(app)
    piece_id = deposit(app, w, w.st1, "A10", "F-1")
    due = NOW + timedelta(days=15)
    with app.app_context(), access.tenant(w.mandataire.structure_id):
        db.session.scalar(select(Piece).where(Piece.id == piece_id).with_for_update())  # a user is acting
        _sweeper(app, due)()  # another connection: does not wait for the user, leaves the deadline open
        assert piece_id not in _tacit(app)
        assert count(app, Deadline, Deadline.piece_id == piece_id, Deadline.kind == "validation_1",
                     Deadline.done_at.is_(None)) == 1
        db.session.rollback()
    with app.app_context():
        sweep(due)
        db.session.commit()
    assert piece_id in _tacit(app)


def _tacit(app) -> list[int]:
    with app.app_context(), access.system_access("test"):
        return list(db.session.scalars(select(PieceEvent.piece_id).where(PieceEvent.action == "tacit_validation")))


# --- the audit ---------------------------------------------------------------------------------------------------


def _superuser(app):
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + app.config["SQLALCHEMY_DATABASE_URI"].rsplit("/", 1)[1]
    return create_engine(url)


def _verify(app):
    runner = app.test_cli_runner()
    return runner.invoke(args=["audit", "verify"])


def test_audit_verify_catches_a_row_changed_by_a_superuser(live_app):
    app = live_app
    w = world(app)
    piece_id = deposit(app, w, w.st1, "A10", "F-AUDIT")
    act(app, w.mandataire, piece_id, "refuse", reason="non_conforme", now=later(1))
    ok = _verify(app)
    assert ok.exit_code == 0, ok.output
    assert "toutes les chaînes sont intactes" in ok.output
    admin = _superuser(app)
    try:
        with admin.begin() as conn:
            # The application's role cannot do this: row-level security and the triggers refuse it.
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            seq, original = conn.execute(text(
                "SELECT seq, reason FROM piece_event WHERE piece_id = :p AND action = 'refuse'"), {"p": piece_id}).one()
            conn.execute(text("UPDATE piece_event SET reason = 'doublon' WHERE piece_id = :p AND seq = :s"),
                         {"p": piece_id, "s": seq})
        broken = _verify(app)
        assert broken.exit_code == 1
        assert f"Pièce id {piece_id} (n° F-AUDIT, émetteur {w.st1.siret})" in broken.output
        assert f"événement n° {seq}" in broken.output and "refuse" in broken.output
        with admin.begin() as conn:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(text("UPDATE piece_event SET reason = :r WHERE piece_id = :p AND seq = :s"),
                         {"r": original, "p": piece_id, "s": seq})
            conn.execute(text("UPDATE piece SET montant_ttc = montant_ttc - 100 WHERE id = :p"), {"p": piece_id})
        changed = _verify(app)
        assert changed.exit_code == 1 and "montant_ttc" in changed.output
        with admin.begin() as conn:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(text("UPDATE piece SET montant_ttc = montant_ttc + 100 WHERE id = :p"), {"p": piece_id})
            last = conn.execute(text("SELECT * FROM piece_event WHERE piece_id = :p ORDER BY seq DESC LIMIT 1"),
                                {"p": piece_id}).mappings().one()
            conn.execute(text("DELETE FROM piece_event WHERE id = :id"), {"id": last["id"]})
        cut = _verify(app)
        assert cut.exit_code == 1 and "la chaîne s'arrête" in cut.output
        with admin.begin() as conn:  # put it back, as it was: the chain is whole again
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            columns = ", ".join(last.keys())
            conn.execute(text(f"INSERT INTO piece_event ({columns}) VALUES "
                              f"({', '.join(':' + k for k in last.keys())})"),
                         {k: (json.dumps(v) if k == "extra" and v is not None else v) for k, v in last.items()})
        assert _verify(app).exit_code == 0
    finally:
        admin.dispose()
