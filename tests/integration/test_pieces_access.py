"""Who sees a piece: the one access predicate, applied by the ORM's criteria (every database) and by PostgreSQL's
row-level security (raw SQL, which the ORM's criteria do not touch). A sibling sous-traitant never sees another's
piece nor its amount; outside a tenant nothing is visible; system access sees everything, and says so."""
from __future__ import annotations

import pytest
from sqlalchemy import select, text

from chorus_chain import access
from chorus_chain.extensions import db
from chorus_chain.models import Notification, Piece, PieceAccess, PieceEvent, PieceFile
from chorus_chain.operations import OperationError
from chorus_chain.operations import pieces as ops
from tests.integration.pieces_world import NOW, act, acting, deposit, later, world


def _raw_count(app, table: str, *, tenant_id: int | None = None, system: bool = False) -> int:
    """A raw SQL count, as one structure (or none, or the system): only row-level security filters it."""
    with app.test_request_context():
        if system:
            with access.system_access("test: raw count across tenants"):
                return db.session.execute(text(f"SELECT count(*) FROM {table}")).scalar()
        if tenant_id is None:
            return db.session.execute(text(f"SELECT count(*) FROM {table}")).scalar()
        with access.tenant(tenant_id):
            return db.session.execute(text(f"SELECT count(*) FROM {table}")).scalar()


@pytest.mark.postgres
def test_row_level_security_on_raw_sql(app, db):
    w = world(app)
    mine = deposit(app, w, w.st1, "A10", "F-1")
    theirs = deposit(app, w, w.sibling, "A10", "F-1")
    assert mine != theirs
    assert _raw_count(app, "piece", tenant_id=w.st1.structure_id) == 1
    assert _raw_count(app, "piece", tenant_id=w.sibling.structure_id) == 1
    assert _raw_count(app, "piece", tenant_id=w.mandataire.structure_id) == 2  # validator of both
    assert _raw_count(app, "piece", tenant_id=w.st_co.structure_id) == 0
    assert _raw_count(app, "piece") == 0  # no tenant: nothing
    assert _raw_count(app, "piece", system=True) == 2
    for table in ("piece_event", "piece_file", "piece_access", "notification"):
        assert _raw_count(app, table) == 0
    # The sibling reads nothing of the other piece, not even its amount, even by id.
    with app.test_request_context(), access.tenant(w.sibling.structure_id):
        amounts = db.session.execute(text("SELECT montant_ttc FROM piece WHERE id = :id"), {"id": mine}).all()
        events = db.session.execute(text("SELECT count(*) FROM piece_event WHERE piece_id = :id"),
                                    {"id": mine}).scalar()
    assert amounts == [] and events == 0


@pytest.mark.postgres
def test_row_level_security_refuses_writes_outside_the_tenant(app, db):
    from sqlalchemy.exc import DBAPIError

    w = world(app)
    mine = deposit(app, w, w.st1, "A10", "F-1")
    with app.test_request_context(), access.tenant(w.sibling.structure_id):
        updated = db.session.execute(text("UPDATE piece SET service_code = 'X' WHERE id = :id"), {"id": mine})
        assert updated.rowcount == 0  # invisible, hence untouched
        with pytest.raises(DBAPIError, match="row-level security"):
            db.session.execute(text("INSERT INTO piece_access (piece_id, structure_id, reason, roles, created_at) "
                                    "VALUES (:p, :s, 'contractor', ' contractor ', now())"),
                               {"p": mine, "s": w.sibling.structure_id})
        db.session.rollback()


@pytest.mark.postgres
def test_deposited_facts_and_history_cannot_be_changed_by_the_application(app, db):
    from sqlalchemy.exc import DBAPIError

    w = world(app)
    piece_id = deposit(app, w, w.st1, "A10", "F-1")
    # piece_event has no UPDATE nor DELETE policy: row-level security hides every row from them (the trigger
    # stands behind, for a role that bypasses it).
    for statement in ("UPDATE piece_event SET reason = 'x' WHERE piece_id = :id",
                      "DELETE FROM piece_event WHERE piece_id = :id"):
        with app.test_request_context(), access.system_access("test: tampering attempts"):
            assert db.session.execute(text(statement), {"id": piece_id}).rowcount == 0
            db.session.rollback()
    for statement in ("UPDATE piece SET montant_ttc = montant_ttc + 1 WHERE id = :id",
                      "UPDATE piece SET number = 'F-2' WHERE id = :id",
                      "UPDATE piece SET main_sha256 = NULL WHERE id = :id",
                      "DELETE FROM piece_file WHERE piece_id = :id",
                      "DELETE FROM piece WHERE id = :id",
                      "UPDATE stored_file SET size = 1"):
        with app.test_request_context(), access.system_access("test: tampering attempts"):
            with pytest.raises(DBAPIError, match="chorus: "):
                db.session.execute(text(statement), {"id": piece_id})
            db.session.rollback()
    # The routing fields stay correctable (à recycler).
    with app.test_request_context(), access.system_access("test: routing fields"):
        db.session.execute(text("UPDATE piece SET service_code = 'TECH' WHERE id = :id"), {"id": piece_id})
        db.session.rollback()


def test_orm_criteria_follow_the_tenant(app, db):
    w = world(app)
    mine = deposit(app, w, w.st1, "A10", "F-1")
    theirs = deposit(app, w, w.sibling, "A10", "F-1")
    with app.test_request_context():
        assert db.session.scalars(select(Piece)).all() == []  # outside a tenant: nothing
        with access.tenant(w.st1.structure_id):
            assert [p.id for p in db.session.scalars(select(Piece))] == [mine]
            assert {e.piece_id for e in db.session.scalars(select(PieceEvent))} == {mine}
            assert {f.piece_id for f in db.session.scalars(select(PieceFile))} == {mine}
            assert {a.structure_id for a in db.session.scalars(select(PieceAccess))} == {w.st1.structure_id}
            assert db.session.get(Piece, theirs) is None
        with access.tenant(w.mandataire.structure_id):  # the same cached statements, another tenant's values
            assert {p.id for p in db.session.scalars(select(Piece))} == {mine, theirs}
            assert {e.piece_id for e in db.session.scalars(select(PieceEvent))} == {mine, theirs}
            assert {f.piece_id for f in db.session.scalars(select(PieceFile))} == {mine, theirs}
            assert {n.structure_id for n in db.session.scalars(select(Notification))} == {w.mandataire.structure_id}
        with access.tenant(w.st_co.structure_id):
            assert db.session.scalars(select(PieceEvent)).all() == []
            assert db.session.scalars(select(Piece)).all() == []
        with access.system_access("test: every piece"):
            assert {p.id for p in db.session.scalars(select(Piece))} == {mine, theirs}


def test_a_sibling_sees_nothing_of_another_sous_traitant(app, db):
    w = world(app)
    piece_id = deposit(app, w, w.st1, "A10", "F-1", ht="96000.00")
    act(app, w.mandataire, piece_id, "validate", now=later(1))
    with acting(app, w.sibling) as (account, structure):
        assert ops.piece_for(structure, piece_id) is None
        for box in ops.BOXES:
            assert ops.pieces_for(structure, box=box).total == 0
        assert ops.unread_notifications(account, structure) == []
        with pytest.raises(OperationError, match="n'existe pas"):
            ops.act(piece_id, account, structure, "take", expected_status="A_ASSOCIER_MOE", now=NOW)
        assert ops.file_content(piece_id, 1) is None
    # The co-traitant's branch neither.
    with acting(app, w.st_co) as (_, structure):
        assert ops.piece_for(structure, piece_id) is None
    # The rang-2 below st1 does not see its contractor's invoices to the buyer.
    with acting(app, w.st2) as (_, structure):
        assert ops.piece_for(structure, piece_id) is None


def test_a_private_invoice_is_seen_by_its_two_parties_only(app, db, client):
    """A rang-2's private invoice to its rang-1 (no cadre): a private contract between the two (loi 75-1334); the
    mandataire above the rang-1 is no party to it and reads nothing of it, nor do the MOA and the MOE."""
    w = world(app)
    piece_id = deposit(app, w, w.st2, None, "PP-1", ht="1000.00", tva="0.00")
    with app.test_request_context(), access.system_access("test: the access rows of one piece"):
        holders = set(db.session.scalars(select(PieceAccess.structure_id).where(PieceAccess.piece_id == piece_id)))
        notified = set(db.session.scalars(select(Notification.structure_id).where(Notification.piece_id == piece_id)))
    assert holders == {w.st2.structure_id, w.st1.structure_id}
    assert notified <= holders
    with acting(app, w.st1) as (_, structure):
        assert ops.piece_for(structure, piece_id) is not None
    for outsider in (w.mandataire, w.moa, w.moe, w.sibling, w.cotraitant):
        with acting(app, outsider) as (account, structure):
            assert ops.piece_for(structure, piece_id) is None, outsider.key
            assert ops.file_content(piece_id, 1) is None
            assert all(n.piece_id != piece_id for n in ops.unread_notifications(account, structure))
    from tests.integration.pieces_world import logged_in

    assert logged_in(app, w.st1).get(f"/s/{w.st1.siret}/pieces/{piece_id}").status_code == 200
    assert logged_in(app, w.mandataire).get(f"/s/{w.mandataire.siret}/pieces/{piece_id}").status_code == 404
