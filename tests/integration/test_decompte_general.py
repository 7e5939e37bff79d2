"""The décompte général as documents (issue 12, end of contract), through the database: the MOE's PDG (A17) from
the issued final état, the MOA's DG (A20) notified with its 30-day signature deadline, the titulaire's signature
with reservations — the undisputed solde paid, the sums claimed in the mémoire left open — and the refusals, each
changing nothing.

World and figures: tests/integration/decompte_general_world.py (solde 57 000,00 € for the mandataire).
"""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from chorus_chain.extensions import db
from chorus_chain.models import Deadline, EtatAcompte, Piece
from chorus_chain.models.decompte_general import DecompteGeneral
from chorus_chain.models.etat_pieces import PayableLine
from chorus_chain.operations import OperationError
from chorus_chain.operations.pieces_drafts import UploadedFile
from tests.integration.db_counts import changed, row_counts
from chorus_chain.operations import etats_acompte as ops
from tests.integration.decompte_general_world import as_moe, days, establish_dg, establish_pdg, final_etat, sign
from tests.integration.etat_pieces_world import pay
from tests.integration.pieces_world import NOW, act, status_of, system, world


def _row(app, etat_id: int) -> DecompteGeneral:
    with system(app):
        row = db.session.scalar(select(DecompteGeneral).where(DecompteGeneral.etat_acompte_id == etat_id))
        db.session.expunge(row)
        return row


def _piece(app, piece_id: int) -> Piece:
    with system(app):
        piece = db.session.get(Piece, piece_id)
        db.session.expunge(piece)
        return piece


def _lines(app, etat_id: int) -> list[PayableLine]:
    with system(app):
        found = list(db.session.scalars(select(PayableLine).where(PayableLine.etat_acompte_id == etat_id)))
        for line in found:
            db.session.expunge(line)
        return found


def test_a_dg_signed_with_reservations_pays_the_undisputed_part_and_keeps_the_claim_open(app, db):
    w = world(app)
    etat_id = final_etat(app, w)
    # The final état was issued: its projet de décompte final waits at the MOA, inside no acompte (no A15).
    with system(app):
        assert db.session.get(EtatAcompte, etat_id).piece_id is None
    establish_pdg(app, w, etat_id, days(1))
    row = _row(app, etat_id)
    pdg = _piece(app, row.pdg_piece_id)
    assert (pdg.cadre, pdg.status, pdg.recipient_siret) == ("A17", "A_ASSOCIER_MOA", w.moa.siret)
    # The PDG carries the engine's solde: 57 000,00 € (171 000,00 due to date − 114 000,00 of état 1).
    assert pdg.accepted_amount == Decimal("57000.00")

    establish_dg(app, w, etat_id, days(2))
    row = _row(app, etat_id)
    dg = _piece(app, row.dg_piece_id)
    assert (dg.cadre, dg.status, dg.recipient_siret) == ("A20", "A_ASSOCIER_FOURNISSEUR", w.mandataire.siret)
    assert status_of(app, row.pdg_piece_id) == "ASSOCIEE"
    # Notified on 4 March 2026 (NOW + 2 days): the titulaire signs by the same instant 30 days later
    # (CCAG Travaux 2021 art. 12.4), which is also the due instant of the A20's clock.
    assert row.signature_due_at == days(2) + timedelta(days=30)
    with system(app):
        clock = db.session.scalar(select(Deadline).where(Deadline.piece_id == dg.id, Deadline.kind == "dg_signature"))
        assert clock.due_at == row.signature_due_at and clock.done_at is None

    memoire = UploadedFile("memoire-reclamation.pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    sign(app, w, etat_id, days(10), with_reservations=True, claimed_amount="12000,00", memoire=memoire,
         reservations="Pénalités de retard contestées : l'ordre de service n° 7 a prolongé le délai de 20 jours.")
    row = _row(app, etat_id)
    assert (row.signature, row.claimed_amount, row.dispute_status) == ("avec_reserves", Decimal("12000.00"), "open")
    assert status_of(app, row.dg_piece_id) == "ASSOCIEE"
    dgd = _piece(app, row.dgd_piece_id)
    assert (dgd.cadre, dgd.emitter_structure_id, dgd.status) == ("A8", w.mandataire.structure_id,
                                                                 "MISE_A_DISPOSITION")
    assert dgd.dossier_number == pdg.dossier_number
    with system(app):
        assert db.session.get(EtatAcompte, etat_id).validated_piece_id == dgd.id
        assert row.memoire_file_id is not None

    # The undisputed part: one line, the engine's solde of the mandataire, 57 000,00 €; its délai de paiement runs
    # from the signature (12 March 2026) → due 11 April 2026. The 12 000,00 € claimed are on no line.
    [line] = _lines(app, etat_id)
    assert (line.payee_party_id, line.amount) == (w.mandataire.party_id, Decimal("57000.00"))
    assert (line.dgp_started_on, line.due_on) == (date(2026, 3, 12), date(2026, 4, 11))
    pay(app, w, etat_id, line.id, service_fait="2026-03-13", mandat="2026-03-16", amount="57000.00",
        paid_on="2026-03-20")
    [line] = _lines(app, etat_id)
    assert (line.paid_amount, line.paid_on) == (Decimal("57000.00"), date(2026, 3, 20))
    assert status_of(app, dgd.id) == "MISE_EN_PAIEMENT"
    # Paid in full within the délai: no interest. The claim stays open, beside the paid solde.
    assert _row(app, etat_id).dispute_status == "open"


def _refused(app, fn, match: str):
    before = row_counts(app)
    with pytest.raises(OperationError, match=match):
        fn()
    assert changed(before, row_counts(app)) == {}


def test_bad_inputs_are_refused_in_french_and_change_nothing(app, db):
    w = world(app)
    etat_id = final_etat(app, w, issue=False)
    # A PDG before the final état is issued.
    _refused(app, lambda: establish_pdg(app, w, etat_id, days(1)), "Émettez d'abord l'état final")
    as_moe(app, w, lambda access, account, structure: ops.issue(access, etat_id, account, structure, now=NOW))
    establish_pdg(app, w, etat_id, days(1))
    _refused(app, lambda: establish_pdg(app, w, etat_id, days(1)), "déjà établi")
    # Signing before any DG.
    _refused(app, lambda: sign(app, w, etat_id, days(2), with_reservations=False), "pas encore notifié")
    establish_dg(app, w, etat_id, days(2))
    # Only the holder signs.
    _refused(app, lambda: sign(app, w, etat_id, days(3), who=w.cotraitant, with_reservations=False),
             "Seul le titulaire")
    # Reservations without a text, or without the amount claimed.
    _refused(app, lambda: sign(app, w, etat_id, days(3), with_reservations=True, reservations="  ",
                               claimed_amount="100"), "Exposez vos réserves")
    _refused(app, lambda: sign(app, w, etat_id, days(3), with_reservations=True, reservations="Révision",
                               claimed_amount=""), "montant des sommes")
    # A mémoire's file Chorus Pro would not take (the attachments' rules, CHORUS.md §5).
    _refused(app, lambda: sign(app, w, etat_id, days(3), with_reservations=True, reservations="Révision",
                               claimed_amount="100", memoire=UploadedFile("memoire.exe", b"MZ")), "ne sont pas acceptés par Chorus Pro")
    # After the deadline (notified NOW + 2 days, due NOW + 32 days): refused, with what the law says.
    _refused(app, lambda: sign(app, w, etat_id, days(32), with_reservations=False), "réputé l'avoir accepté")
    sign(app, w, etat_id, days(31), with_reservations=False)
    assert _row(app, etat_id).signature == "sans_reserve"
    # Signing twice.
    _refused(app, lambda: sign(app, w, etat_id, days(31), with_reservations=True, reservations="Révision",
                               claimed_amount="10"), "déjà été signé")


def test_the_pieces_of_the_decompte_general_move_only_through_its_page(app, db):
    w = world(app)
    etat_id = final_etat(app, w)
    establish_pdg(app, w, etat_id, days(1))
    pdg_id = _row(app, etat_id).pdg_piece_id
    with pytest.raises(OperationError, match="page du décompte général"):
        act(app, w.moa, pdg_id, "moa_take")
    establish_dg(app, w, etat_id, days(2))
    with pytest.raises(OperationError, match="page du décompte général"):
        act(app, w.mandataire, _row(app, etat_id).dg_piece_id, "sign_dg")


def test_silence_for_30_days_makes_the_dg_definitive_and_the_solde_payable(app, db):
    """The sweep applies the tacit acceptance at the due instant (notified 4 March 2026 → 3 April 2026), even when it
    runs late; the solde's line starts its délai de paiement that day (due 3 May 2026); signing is then refused."""
    from chorus_chain.jobs.clock import tick

    w = world(app)
    etat_id = final_etat(app, w)
    establish_pdg(app, w, etat_id, days(1))
    establish_dg(app, w, etat_id, days(2))
    due = _row(app, etat_id).signature_due_at
    with app.test_request_context():
        tick(due + timedelta(days=3))
    row = _row(app, etat_id)
    assert (row.signature, row.signed_at, row.signed_by_id, row.dgd_piece_id) == ("tacite", due, None, None)
    assert status_of(app, row.dg_piece_id) == "ASSOCIEE"
    [line] = _lines(app, etat_id)
    assert (line.amount, line.dgp_started_on, line.due_on) == (Decimal("57000.00"), date(2026, 4, 3),
                                                              date(2026, 5, 3))
    _refused(app, lambda: sign(app, w, etat_id, due + timedelta(days=4), with_reservations=False),
             "réputé l'avoir accepté")


def test_the_pdg_carries_the_decompte_general_pdf_as_its_main_file(app, db):
    """Establishing the PDG queues the final état's PDF (an outbox row in the same transaction); the documents worker
    renders it from the frozen result and attaches it to the A17 as its main file, once."""
    from chorus_chain.jobs.documents import store_etat_pdf
    from chorus_chain.jobs.outbox import run
    from chorus_chain.models import OutboxJob, PieceFile

    w = world(app)
    etat_id = final_etat(app, w)
    with system(app):
        jobs_before = db.session.scalar(select(db.func.count()).select_from(OutboxJob)
                                        .where(OutboxJob.job == "store_etat_pdf"))
    establish_pdg(app, w, etat_id, days(1))
    with system(app):
        [job] = list(db.session.scalars(select(OutboxJob).where(OutboxJob.job == "store_etat_pdf")
                                        .order_by(OutboxJob.id)))[jobs_before:]
        job_id, payload = job.id, job.payload
    assert payload == {"etat_id": etat_id}
    with app.app_context():
        run(job_id)
    pdg_id = _row(app, etat_id).pdg_piece_id
    with system(app):
        files = [(f.role, f.content_type, f.name) for f in db.session.scalars(
            select(PieceFile).where(PieceFile.piece_id == pdg_id))]
    assert files == [("main", "application/pdf", "décompte-général-2.pdf")]
    with app.app_context():
        assert store_etat_pdf(etat_id) is False
