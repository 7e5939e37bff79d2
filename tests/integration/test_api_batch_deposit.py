"""The set-based batch deposit (`operations.deposits.batch`): pieces refused by the operations' own checks (a number
already used, the same number twice in the batch, a recipient the pre-flight check refuses, a file not in base64)
leave nothing behind, and a piece deposited in a batch is written exactly as the single path writes it — the same
events (and a hash chain `flask audit verify` accepts), access rows, clocks, notifications and e-mails.
The worked example is the pieces world's projet de décompte (A4 of the mandataire)."""
from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select

from chorus_chain.extensions import db
from chorus_chain.models import (
    Deadline,
    MailMessage,
    Notification,
    OutboxJob,
    Piece,
    PieceAccess,
    PieceEvent,
    PieceFile,
)
from chorus_chain.operations import pieces as ops
from chorus_chain.operations.audit import verify_pieces
from chorus_chain.operations.deposits import DepositContext
from chorus_chain.operations.deposits import batch as batch_ops
from chorus_chain.domain import numbering
from tests.integration import pieces_world as pw
from tests.integration.api_world import bearer
from tests.integration.test_api import _body

pytestmark = pytest.mark.postgres


@pytest.fixture
def w(app, db):
    return pw.world(app)


def _written(app, piece_id: int) -> dict:
    """Everything a deposit wrote about a piece, without ids and instants: what must not depend on the path."""
    with pw.system(app):
        piece = db.session.get(Piece, piece_id)
        mails = db.session.scalars(select(MailMessage)).all()
        return {
            "status": piece.status, "route": piece.route, "amounts": (piece.montant_ht, piece.montant_ttc),
            "dossier": piece.dossier_number is not None, "main_sha256": piece.main_sha256,
            "events": [(e.seq, e.action, e.from_status, e.to_status, e.actor_step, sorted((e.extra or {}).keys()))
                       for e in db.session.scalars(select(PieceEvent).where(PieceEvent.piece_id == piece_id)
                                                   .order_by(PieceEvent.seq))],
            "files": [(f.role, f.name, f.sha256) for f in db.session.scalars(
                select(PieceFile).where(PieceFile.piece_id == piece_id).order_by(PieceFile.id))],
            "access": sorted((a.structure_id, a.reason, a.roles) for a in db.session.scalars(
                select(PieceAccess).where(PieceAccess.piece_id == piece_id))),
            "clocks": sorted((d.kind, d.done_at is None) for d in db.session.scalars(
                select(Deadline).where(Deadline.piece_id == piece_id))),
            "notifications": sorted(Counter((n.structure_id, n.kind) for n in db.session.scalars(
                select(Notification).where(Notification.piece_id == piece_id))).items()),
            "mails": sum(1 for m in mails
                         if m.context and str(m.context.get("url")).endswith(f"/pieces/{piece_id}")),
        }


def _numbers_of(app, prefix: str) -> set[str]:
    with pw.system(app):
        return set(db.session.scalars(select(Piece.number).where(Piece.number.like(f"{prefix}%"))))


def test_a_batch_refuses_in_the_operations_leaves_nothing_and_writes_what_the_single_path_writes(app, client, w):
    auth = bearer(app, client, w.mandataire.structure_id, w.mandataire.account_id)
    single = client.post("/api/v1/pieces", json=_body(app, w, w.mandataire, "SET-000", envoyer=True), headers=auth)
    assert single.status_code == 201, single.get_data(as_text=True)
    bodies = [_body(app, w, w.mandataire, f"SET-{n:03d}", envoyer=True) for n in range(1, 9)]
    bodies[1]["numero"] = "SET-000"  # already used by the single deposit
    bodies[3]["numero"] = "SET-003"  # the same number as bodies[2]
    bodies[4]["siret_destinataire"] = w.cotraitant.siret  # not the route's recipient: the pre-flight refuses it
    bodies[5]["fichier"] = {"nom": "pdm.pdf", "contenu_base64": "pas du base64 !"}
    with pw.system(app):
        rows_before = {model: db.session.query(model).count() for model in (PieceFile, PieceEvent, PieceAccess,
                                                                             Deadline, Notification, MailMessage)}
    report = client.post("/api/v1/depots/lot", json={"pieces": bodies}, headers=auth).get_json()
    assert (report["total"], report["creees"], report["refusees"]) == (8, 4, 4)
    refused = {item["index"]: item["erreurs"][0]["field"] for item in report["items"]
               if item["resultat"] == "refusee"}
    assert refused == {1: "numero", 3: "numero", 4: "siret_destinataire", 5: "fichiers"}
    assert all(item["statut"] == single.get_json()["statut"] for item in report["items"]
               if item["resultat"] == "creee")
    assert _numbers_of(app, "SET-") == {"SET-000", "SET-001", "SET-003", "SET-007", "SET-008"}

    # Nothing of the refused pieces: each table grew by what the four created pieces wrote, as the single one did.
    reference = _written(app, single.get_json()["id"])
    assert all(reference[kind] for kind in ("events", "files", "access", "clocks", "notifications", "mails"))
    created = [item["piece_id"] for item in report["items"] if item["resultat"] == "creee"]
    for piece_id in created:
        assert _written(app, piece_id) == reference
    with pw.system(app):
        rows_after = {model: db.session.query(model).count() for model in rows_before}
        per_piece = {PieceFile: len(reference["files"]), PieceEvent: len(reference["events"]),
                     PieceAccess: len(reference["access"]), Deadline: len(reference["clocks"]),
                     Notification: sum(n for _, n in reference["notifications"]), MailMessage: reference["mails"]}
        assert {m: rows_after[m] - rows_before[m] for m in rows_before} == {m: 4 * n for m, n in per_piece.items()}
        # Every e-mail has its outbox job (written at the end, in one statement).
        mail_ids = {m.id for m in db.session.scalars(select(MailMessage))}
        jobs = {job.payload["mail_id"] for job in db.session.scalars(select(OutboxJob).where(
            OutboxJob.job == "send_mail"))}
        assert mail_ids <= jobs
    with app.test_request_context():
        assert verify_pieces().broken is None


def test_a_number_taken_by_another_request_between_the_check_and_the_write(app, w):
    """The race the unique key settles: the batch's check found the number free (here: the context says so), the
    write meets the unique key, and the batch starts again one piece at a time — the piece that lost the race is
    refused as a duplicate, the others are created, nothing is written twice."""
    pw.deposit(app, w, w.mandataire, "A4", "RACE-1")
    raw = {n: pw.draft_form(app, w, w.mandataire, "A4", n) for n in ("RACE-1", "RACE-2", "RACE-3")}
    with pw.acting(app, w.mandataire) as (account, structure):
        ctx = DepositContext(structure)
        ctx.numbers[numbering.number_key("RACE-1")] = None  # as read before the other request committed
        items = [batch_ops.Item(w.marche_id, raw[n], ops.UploadedFile("pdm.pdf", pw.PDF), send=True) for n in raw]
        outcomes = batch_ops.create_many(account, structure, items, now=pw.NOW, ctx=ctx)
        ctx.finish()
        assert outcomes[0].piece is None and outcomes[0].error.field == "number"
        assert [o.piece.status for o in outcomes[1:]] == [outcomes[1].piece.status] * 2
        assert outcomes[1].piece.status != "BROUILLON"
    assert _numbers_of(app, "RACE-") == {"RACE-1", "RACE-2", "RACE-3"}
    with pw.system(app):
        assert db.session.query(Piece).filter(Piece.number.like("RACE-%")).count() == 3
    with app.test_request_context():
        assert verify_pieces().broken is None
