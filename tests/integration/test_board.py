"""The dashboards' read model (issue 20) stays what the pieces say, in the transaction of each change: after every
kind of operation the stored rows and rollups equal a recompute from the pieces (`board.recompute(check=True)`);
a read of the board in the changing transaction already sees the change; refresh is a fixed number of statements
whatever the number of pieces; a tenant never writes another structure's rows (row-level security) outside
refresh's one system access; the compaction keeps every sum."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import event, func, select, text

from chorus_chain import access
from chorus_chain.extensions import db
from chorus_chain.models import BoardCount, BoardRow, Marche
from chorus_chain.operations import board
from chorus_chain.operations.board import rebuild
from tests.integration.pieces_world import acting, act, create, deposit, later, system, world

COARSE_TABLES = ("board_status_count", "board_marche_count", "board_status_marche_count", "board_cadre_marche_count",
                 "board_party_count")
# « Montants par entreprise »'s lines and totals, checked with the rollups (`money.check`).
CHECKED = (*COARSE_TABLES, "board_money_line")


def assert_exact(app) -> None:
    """The stored read model equals the recompute from the pieces (nothing changed by the check)."""
    with app.test_request_context():
        found = board.recompute(check=True)
        db.session.rollback()
    assert found.rows > 0
    assert (found.missing, found.extra, found.different, found.buckets_different) == (0, 0, 0, 0), found
    # The coarser rollups were checked, each, and agree; and the companies' money lines.
    assert found.coarse_different == {name: 0 for name in CHECKED}, found


def row_of(app, structure_id: int, piece_id: int) -> BoardRow | None:
    with app.test_request_context(), access.tenant(structure_id):
        row = db.session.get(BoardRow, (structure_id, piece_id))
        if row is not None:
            db.session.expunge(row)
        return row


def test_every_step_of_a_route_keeps_the_read_model_exact(app, db):
    w = world(app)
    draft = create(app, w, w.st1, "A10", "F-0")
    mine = row_of(app, w.st1.structure_id, draft)
    assert mine.waiting and mine.waiting_role == "emitter" and mine.reason == "emitter" and mine.roles == ""
    assert row_of(app, w.mandataire.structure_id, draft) is None  # a draft is its emitter's alone
    assert_exact(app)
    piece_id = deposit(app, w, w.st1, "A10", "F-1", ht="10000.00")
    validator = row_of(app, w.mandataire.structure_id, piece_id)
    assert validator.waiting and validator.waiting_role == "validation_1" and validator.next_kind == "validation_1"
    assert not row_of(app, w.st1.structure_id, piece_id).waiting
    assert_exact(app)
    steps = [(w.mandataire, "validate", {}), (w.moe, "take", {}), (w.moe, "issue_etat_acompte", {"amount": "9 500,00"}),
             (w.moa, "moa_take", {}), (w.moa, "moa_validate", {}), (w.moa, "mark_service_fait", {}),
             (w.moa, "mark_mandatee", {}),
             (w.moa, "mark_paid", {"amount": "9500,00", "paid_on": "2026-03-10"})]
    for day, (who, action, inputs) in enumerate(steps, start=1):
        act(app, who, piece_id, action, now=later(day), **inputs)
        assert_exact(app)
    paid = row_of(app, w.st1.structure_id, piece_id)
    assert (paid.status, paid.paid_amount, paid.validated) == ("MISE_EN_PAIEMENT", Decimal("9500.00"), True)
    assert not any(row_of(app, who.structure_id, piece_id).waiting for who in (w.mandataire, w.moe, w.moa))


def test_refusal_partial_validation_and_renamings(app, db):
    w = world(app)
    refused = deposit(app, w, w.st1, "A10", "F-1")
    act(app, w.mandataire, refused, "refuse", now=later(1), reason="non_realise", comment="Non réalisés")
    partial = deposit(app, w, w.st1, "A10", "F-2", ht="2000.00")
    act(app, w.mandataire, partial, "validate_partially", now=later(1), amount="1 500,00",
        reason="Métré contradictoire")
    assert row_of(app, w.st1.structure_id, partial).accepted_amount == Decimal("1500.00")
    assert_exact(app)
    # The emitter's name and the marché's reference are copied on its rows: a change of them refreshes them.
    with acting(app, w.st1) as (account, structure):
        structure.name = "Plâtrerie renommée"
        db.session.get(Marche, w.marche_id).reference = "M-RENOMME"
    row = row_of(app, w.mandataire.structure_id, partial)
    assert (row.emitter_name, row.marche_reference) == ("Plâtrerie renommée", "M-RENOMME")
    assert_exact(app)


def test_a_read_of_the_board_in_the_changing_transaction_sees_the_change(app, db):
    w = world(app)
    piece_id = deposit(app, w, w.st1, "A10", "F-1")
    with acting(app, w.mandataire) as (account, structure):
        from chorus_chain.operations import pieces as ops

        ops.act(piece_id, account, structure, "validate", expected_status="A_VALIDER_1", now=later(1))
        # Not committed yet: the board already says it (the hook refreshed before this read).
        row = db.session.scalar(select(BoardRow).where(BoardRow.structure_id == w.mandataire.structure_id,
                                                       BoardRow.piece_id == piece_id))
        assert row.status == "A_ASSOCIER_MOE" and not row.waiting


def _statements(app, who, piece_ids) -> int:
    seen = []

    def count(*args):
        seen.append(1)

    with app.test_request_context(), access.tenant(who.structure_id):
        engine = db.session.get_bind()
        event.listen(engine, "before_cursor_execute", count)
        try:
            board.refresh(piece_ids)  # as a user's transaction calls it: its system access included
        finally:
            event.remove(engine, "before_cursor_execute", count)
        db.session.rollback()
    return len(seen)


def test_refresh_is_a_fixed_number_of_statements_whatever_the_number_of_pieces(app, db):
    w = world(app)
    ids = [deposit(app, w, w.st1, "A10", f"F-{n}") for n in range(6)]
    one, six = _statements(app, w.st1, ids[:1]), _statements(app, w.st1, ids)
    assert one == six <= 6, (one, six)


@pytest.mark.postgres
def test_refresh_writes_only_the_rows_that_differ(app, db):
    """On PostgreSQL refresh rewrites the pieces' rows in place, in one statement (issue 20: the read model's writes
    were most of the deadline sweep's cost): a changed row is updated, a structure that no longer sees a piece loses
    its row, a new one gets one, and a row whose values did not change is not written at all (its physical version
    is the same) — the rollups exact all along."""
    w = world(app)
    seen, renamed = deposit(app, w, w.st1, "A10", "F-1"), deposit(app, w, w.st1, "A10", "F-2")
    draft = create(app, w, w.st1, "A10", "F-0")
    cotraitant = w.cotraitant.structure_id
    viewers = {w.moa.structure_id, w.moe.structure_id, w.mandataire.structure_id, w.st1.structure_id}

    def versions(piece_id: int) -> dict[int, str]:
        with system(app):
            return dict(db.session.execute(text(
                "SELECT structure_id, ctid::text || '/' || xmin::text FROM board_row WHERE piece_id = :id"),
                {"id": piece_id}).all())

    before = {piece_id: versions(piece_id) for piece_id in (seen, renamed, draft)}
    assert set(before[seen]) == set(before[renamed]) == viewers and set(before[draft]) == {w.st1.structure_id}
    with system(app):
        # Written by hand, as a Core writer would: the cotraitant is given access to one piece (its four rows stay
        # as they are), another piece gets a dossier number (its four rows change), the draft changes hands.
        db.session.execute(text("INSERT INTO piece_access (piece_id, structure_id, reason, roles, created_at) "
                                "VALUES (:id, :s, 'titulaire', ' titulaire ', now())"), {"id": seen, "s": cotraitant})
        db.session.execute(text("UPDATE piece SET dossier_number = 'D-42' WHERE id = :id"), {"id": renamed})
        db.session.execute(text("UPDATE piece SET emitter_structure_id = :s WHERE id = :id"),
                           {"id": draft, "s": cotraitant})
        assert board.refresh([seen, renamed, draft]) == 5 + 4 + 1
        db.session.commit()
    after = {piece_id: versions(piece_id) for piece_id in (seen, renamed, draft)}
    assert after[seen] == {**before[seen], cotraitant: after[seen][cotraitant]}  # one row added, four untouched
    assert row_of(app, cotraitant, seen).reason == "titulaire"
    assert set(after[renamed]) == viewers
    assert not set(after[renamed].values()) & set(before[renamed].values())  # each row rewritten
    assert row_of(app, w.moa.structure_id, renamed).dossier_number == "D-42"
    assert set(after[draft]) == {cotraitant}  # the former emitter's row deleted, the new one's inserted
    assert_exact(app)
    # Refreshed again with nothing changed: no row written.
    with system(app):
        board.refresh([seen, renamed, draft])
        db.session.commit()
    assert {piece_id: versions(piece_id) for piece_id in (seen, renamed, draft)} == after


@pytest.mark.postgres
def test_refresh_writes_the_rows_and_every_rollup_delta_in_one_statement(app, db):
    """On PostgreSQL the rollup deltas of a refresh (board_count's per bucket, and their projection on each coarser
    rollup) are summed and inserted by the statement that rewrites the rows (issue 20: a sweep's batch fetched both
    sides of its ~2 000 rows and summed them in Python), and they are the deltas the Python projection gives
    (the recompute's check)."""
    w = world(app)
    ids = [deposit(app, w, w.st1, "A10", f"F-{n}") for n in range(3)]
    with system(app):
        # A status change by hand, as a Core writer would: each piece's rows move to another bucket (a paid one:
        # the companies' rollup counts its payment).
        db.session.execute(text("UPDATE piece SET status = 'MISE_EN_PAIEMENT', paid_amount = montant_ttc WHERE id = ANY(:ids)"), {"ids": ids})
        engine = db.session.get_bind()
        written = []

        def count(conn, cursor, statement, *args):
            if "board_" in statement:
                written.append(statement)

        event.listen(engine, "before_cursor_execute", count)
        try:
            assert board.refresh(ids) == 3 * 4  # each piece's four viewers
        finally:
            event.remove(engine, "before_cursor_execute", count)
        db.session.commit()
    assert len(written) == 1, written
    assert all(f"INSERT INTO {table}" in written[0] for table in ("board_count", *COARSE_TABLES, "board_money_delta"))
    with system(app):
        moved = db.session.scalar(select(func.sum(BoardCount.n)).where(BoardCount.status == "MISE_EN_PAIEMENT"))
    assert moved == 3 * 4
    assert_exact(app)


def test_recompute_reports_then_corrects_the_differences(app, db):
    w = world(app)
    piece_id = deposit(app, w, w.st1, "A10", "F-1")
    with system(app):
        db.session.execute(text("DELETE FROM board_row WHERE piece_id = :id AND structure_id = :s"),
                           {"id": piece_id, "s": w.mandataire.structure_id})
        db.session.execute(text("UPDATE board_row SET waiting = NOT waiting WHERE piece_id = :id"), {"id": piece_id})
    with app.test_request_context():
        found = board.recompute(check=True)
        db.session.rollback()
    assert found.missing == 1 and found.different >= 1 and found.pieces == [piece_id]
    assert found.buckets_different == 0  # the rollups were not touched: they still say the truth
    with app.test_request_context():
        assert board.recompute().fixed
        db.session.commit()
    assert_exact(app)


@pytest.mark.parametrize("batch", [None, 1], ids=["one batch", "a structure per batch"])
def test_recompute_reports_then_corrects_each_coarser_rollup(app, db, monkeypatch, batch):
    """A delta lost or added by hand in « Par statut », « Par marché », one status's marchés or the companies'
    rollup is reported, table by table, and corrected by one delta per key — whether the structures are read
    together or a batch at a time (how memory stays bounded at a million pieces), and for a structure that has
    rollup rows but no piece."""
    if batch:
        monkeypatch.setattr(rebuild, "BATCH_STRUCTURES", batch)
    w = world(app)
    piece_id = deposit(app, w, w.st1, "A10", "F-1")
    act(app, w.mandataire, piece_id, "validate", now=later(1))
    with system(app):
        db.session.execute(text("DELETE FROM board_status_count WHERE structure_id = :s"),
                           {"s": w.mandataire.structure_id})
        db.session.execute(text("UPDATE board_marche_count SET paid = paid + 1 WHERE structure_id = :s"),
                           {"s": w.st1.structure_id})
        db.session.execute(text("UPDATE board_status_marche_count SET n = n + 1 WHERE structure_id = :s"),
                           {"s": w.st1.structure_id})
        db.session.execute(text("UPDATE board_cadre_marche_count SET signed_ttc = signed_ttc - 1 "
                                "WHERE structure_id = :s"), {"s": w.moe.structure_id})
        db.session.execute(text(
            "INSERT INTO board_party_count (structure_id, marche_id, emitter_party_id, n, sent_ttc, validated_ttc, "
            "paid) VALUES (:s, :m, :p, 1, 0, 0, 0)"),
            {"s": w.moe.structure_id, "m": w.marche_id, "p": w.st1.party_id})
        nobody = db.session.scalar(text("SELECT max(id) + 1000 FROM structure"))  # no piece, no row: a stray sum
        db.session.execute(text("INSERT INTO board_marche_count (structure_id, works, marche_id, n, signed_ttc, paid, "
                                "under_way) VALUES (:s, true, :m, 1, 0, 0, 0)"), {"s": nobody, "m": w.marche_id})
        db.session.commit()
    with app.test_request_context():
        found = board.recompute(check=True)
        db.session.rollback()
    assert (found.missing, found.extra, found.different, found.buckets_different) == (0, 0, 0, 0)
    assert found.coarse_different["board_status_count"] >= 1
    assert found.coarse_different["board_marche_count"] >= 2  # the stray structure's sum too
    assert found.coarse_different["board_marche_count"] >= 1
    assert found.coarse_different["board_status_marche_count"] >= 1
    assert found.coarse_different["board_cadre_marche_count"] >= 1
    assert found.coarse_different["board_party_count"] == 1
    with app.test_request_context():
        assert board.recompute().fixed
        db.session.commit()
    assert_exact(app)


def test_compaction_keeps_every_sum_and_leaves_one_row_per_bucket(app, db):
    w = world(app)
    piece_id = deposit(app, w, w.st1, "A10", "F-1")
    act(app, w.mandataire, piece_id, "validate", now=later(1))
    act(app, w.moe, piece_id, "take", now=later(2))
    with system(app):
        before = db.session.execute(select(func.count()).select_from(BoardCount)).scalar()
        board.compact()
        crowded = db.session.execute(select(BoardCount.structure_id).group_by(
            BoardCount.structure_id, BoardCount.marche_id, BoardCount.emitter_party_id, BoardCount.cadre,
            BoardCount.works, BoardCount.status).having(func.count() > 1)).all()
        after = db.session.execute(select(func.count()).select_from(BoardCount)).scalar()
        # The coarser rollups too: one row per key.
        coarse_crowded = {table: db.session.execute(text(
            f"SELECT count(*) FROM (SELECT 1 FROM {table} GROUP BY {keys} HAVING count(*) > 1) AS c")).scalar()
            for table, keys in (("board_status_count", "structure_id, works, status"),
                                ("board_marche_count", "structure_id, works, marche_id"),
                                ("board_status_marche_count", "structure_id, status, works, marche_id"),
                                ("board_cadre_marche_count", "structure_id, cadre, status, works, marche_id"),
                                ("board_party_count", "structure_id, marche_id, emitter_party_id"))}
    assert crowded == [] and after < before
    assert coarse_crowded == {table: 0 for table in COARSE_TABLES}
    assert_exact(app)


@pytest.mark.postgres
def test_a_tenant_never_writes_another_structures_board_rows_outside_refresh(app, db):
    from sqlalchemy.exc import DBAPIError

    w = world(app)
    piece_id = deposit(app, w, w.st1, "A10", "F-1")
    theirs = w.mandataire.structure_id
    with app.test_request_context(), access.tenant(w.st1.structure_id):
        # Its own rows only: the validator's row is invisible, hence untouched.
        assert db.session.execute(text("SELECT count(*) FROM board_row WHERE piece_id = :id"),
                                  {"id": piece_id}).scalar() == 1
        assert db.session.execute(text("UPDATE board_row SET waiting = false WHERE structure_id = :s"),
                                  {"s": theirs}).rowcount == 0
        assert db.session.execute(text("DELETE FROM board_count WHERE structure_id = :s"),
                                  {"s": theirs}).rowcount == 0
        with pytest.raises(DBAPIError, match="row-level security"):
            db.session.execute(text(
                "INSERT INTO board_count (structure_id, marche_id, emitter_party_id, cadre, works, status, n, "
                "signed_ttc, paid, sent_ttc, validated_ttc, under_way) "
                "VALUES (:s, :m, 1, '', true, 'DEPOSEE', 1, 0, 0, 0, 0, 0)"), {"s": theirs, "m": w.marche_id})
        db.session.rollback()
    with app.test_request_context(), access.tenant(w.st1.structure_id):
        with pytest.raises(DBAPIError, match="row-level security"):
            db.session.execute(text("UPDATE board_row SET structure_id = :s WHERE piece_id = :id"),
                               {"s": theirs, "id": piece_id})
        db.session.rollback()
    # The one place that writes them: refresh, under its stated system access, from a tenant's transaction.
    with app.test_request_context(), access.tenant(w.st1.structure_id):
        assert board.refresh([piece_id]) >= 2
        db.session.rollback()
    assert_exact(app)
