"""The état d'acompte as documents (issue 12), worked examples through the database: the MOE's issue deposits an
A15 linked to its projets de décompte; the MOA validates it as one document (A19, payable lines) or returns it (« n°
k bis »); the paying office pays each line, with late-payment interest per line.

The world and the month: tests/integration/etat_pieces_world.py (arithmetic of each figure below)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from chorus_chain.extensions import db
from chorus_chain.models import MarcheEvent, Notification, Piece, PieceAccess, PieceEvent
from chorus_chain.models.etat_pieces import EtatAcomptePdm, LinePayment, PayableLine
from chorus_chain.models.money import Decompte, EtatAcompte
from chorus_chain.operations import OperationError
from tests.integration.etat_pieces_world import (
    at,
    correct_st1,
    issue,
    month_of_may,
    open_etat,
    pay,
    return_etat,
    validate,
)
from tests.integration.pieces_world import count, piece, rows, system, world


def _etat(app, etat_id: int) -> EtatAcompte:
    with system(app):
        etat = db.session.get(EtatAcompte, etat_id)
        db.session.expunge(etat)
        return etat


def _lines(app, etat_id: int) -> dict[str, PayableLine]:
    found = rows(app, PayableLine, PayableLine.etat_acompte_id == etat_id, order_by=PayableLine.position)
    return {line.name: line for line in found}


def test_a_month_corrected_validated_and_paid_line_by_line_one_line_late_across_the_half_year(app, db):
    w = world(app)
    pdm = month_of_may(app, w)
    etat_id = open_etat(app, w, "2026-05", at("2026-05-22"))
    correct_st1(app, w, etat_id)
    assert issue(app, w, etat_id, at("2026-05-23")) == "issued"

    # The issue deposits an A15 of the MOE, addressed to the MOA (route: the MOA only), linked to the four PDMs.
    etat = _etat(app, etat_id)
    a15 = piece(app, etat.piece_id)
    assert (a15.cadre, a15.status, a15.number) == ("A15", "A_ASSOCIER_MOA", f"EA-M{w.marche_id}-001")
    assert a15.emitter_structure_id == w.moe.structure_id and a15.route_steps == ("moa",)
    assert (a15.recipient_siret, a15.service_code, a15.engagement_number) == (w.moa.siret, "TECH", "EJ-2026-1")
    links = rows(app, EtatAcomptePdm, EtatAcomptePdm.etat_acompte_id == etat_id)
    assert sorted(link.piece_id for link in links) == sorted(pdm.values())
    # Hand arithmetic (retenue 5 %, VAT 20 %; st1 and st_co reverse-charged, paid HT):
    #   mandataire: works 10 000.00; VAT 20 % × 10 000 + 20 % × st1's admitted 4 800 = 2 000 + 960 = 2 960.00;
    #     TTC 12 960.00; retenue of its part 5 % × (10 000 + 4 800) × 1.2 = 888.00, less st1's 5 % × 4 800 = 240.00
    #     → 648.00; due 12 960 − 648 = 12 312.00.
    #   st1: 4 800 − 240 = 4 560.00.
    #   cotraitant: VAT 2 000 + 20 % × 5 400 = 3 080.00; TTC 13 080.00; retenue 5 % × 15 400 × 1.2 = 924.00 less
    #     st_co's 270.00 → 654.00; due 13 080 − 654 = 12 426.00.
    #   st_co: 5 400 − 270 = 5 130.00.
    #   Total: 12 312 + 4 560 + 12 426 + 5 130 = 34 428.00 (the A15's accepted amount).
    assert etat.result["marche"]["amount_due"]["this"] == "34428.00"
    assert a15.accepted_amount == Decimal("34428.00")
    # Each PDM waits at the MOA inside the état, with its beneficiary's amount; st1's shows the claimed beside it.
    st1 = piece(app, pdm["st1"])
    assert (st1.status, st1.accepted_amount, st1.montant_ttc) == ("A_ASSOCIER_MOA", Decimal("4560.00"),
                                                                  Decimal("9600.00"))

    # The MOA validates the état as one document: the A15 is closed (its A19 takes over), the PDMs reach the paying
    # office, the A19 is deposited there, and one payable line per payee is written.
    validate(app, w, etat_id, at("2026-05-26"))
    etat = _etat(app, etat_id)
    assert piece(app, etat.piece_id).status == "ASSOCIEE"
    a19 = piece(app, etat.validated_piece_id)
    assert (a19.cadre, a19.status, a19.emitter_structure_id) == ("A19", "MISE_A_DISPOSITION", w.moa.structure_id)
    assert a19.previous_piece_id == etat.piece_id and a19.dossier_number == a15.dossier_number
    assert a19.received_at is None  # the A19 continues the PDMs' DGP: no clock of its own
    assert {piece(app, p).status for p in pdm.values()} == {"MISE_A_DISPOSITION"}
    lines = _lines(app, etat_id)
    assert {name: line.amount for name, line in lines.items()} == {
        w.mandataire.name: Decimal("12312.00"), w.st1.name: Decimal("4560.00"),
        w.cotraitant.name: Decimal("12426.00"), w.st_co.name: Decimal("5130.00")}
    # Every euro the engine computed is on exactly one line.
    assert sum(line.amount for line in lines.values()) == Decimal("34428.00")
    # Each line's DGP started at the MOE's receipt of the first PDM whose money it carries: the mandataire's line
    # (with the VAT on st1's works) from its own PDM of 18 May, the co-traitant's from 19 May, st1 20, st_co 21.
    assert {name: (line.dgp_started_on, line.due_on) for name, line in lines.items()} == {
        w.mandataire.name: (date(2026, 5, 18), date(2026, 6, 17)),
        w.cotraitant.name: (date(2026, 5, 19), date(2026, 6, 18)),
        w.st1.name: (date(2026, 5, 20), date(2026, 6, 19)),
        w.st_co.name: (date(2026, 5, 21), date(2026, 6, 20))}
    assert all(line.iban for line in lines.values())

    # The paying office pays the four lines on four days.
    mandataire, st1_line = lines[w.mandataire.name], lines[w.st1.name]
    cotraitant, st_co = lines[w.cotraitant.name], lines[w.st_co.name]
    pay(app, w, etat_id, mandataire.id, service_fait="2026-06-01", mandat="2026-06-05", amount="12312.00",
        paid_on="2026-06-10")
    pay(app, w, etat_id, st1_line.id, service_fait="2026-06-01", mandat="2026-06-05", amount="2000.00",
        paid_on="2026-06-15")
    # A partial payment: the PDM of st1 waits, mandated, for the rest.
    assert piece(app, pdm["st1"]).status == "MANDATEE"
    pay(app, w, etat_id, st1_line.id, amount="2560.00", paid_on="2026-06-19")  # the due date itself: on time
    pay(app, w, etat_id, cotraitant.id, service_fait="2026-06-02", mandat="2026-06-08", amount="12426.00",
        paid_on="2026-06-18")
    pay(app, w, etat_id, st_co.id, service_fait="2026-06-02", mandat="2026-06-30", amount="5130.00",
        paid_on="2026-07-06")
    # st_co's line is late: due 20 June, interest from 21 June (1st half-year 2026: ECB rate on 1 January 2026
    # 2.15 % + 8 = 10.15 %, kept although the payment falls in July); days = 6 July − 20 June = 16;
    # interest = 5 130.00 × 10.15 % × 16 / 365 = 22.8249… → 22.82; plus the 40 € flat fee.
    payments = rows(app, LinePayment, LinePayment.line_id == st_co.id)
    assert [(p.days_late, p.rate_percent, p.interest, p.flat_fee) for p in payments] == \
        [(16, Decimal("10.150"), Decimal("22.82"), Decimal("40.00"))]
    on_time = rows(app, LinePayment, LinePayment.line_id != st_co.id)
    assert len(on_time) == 4 and all(p.interest == 0 and p.flat_fee == 0 for p in on_time)
    lines = _lines(app, etat_id)
    assert all(line.paid_amount == line.amount and line.paid_on for line in lines.values())
    # The pieces followed the lines: every PDM paid with its own amount, the A19 with the whole.
    assert {p: (piece(app, i).status, piece(app, i).paid_amount) for p, i in pdm.items()} == {
        "mandataire": ("MISE_EN_PAIEMENT", Decimal("12312.00")), "st1": ("MISE_EN_PAIEMENT", Decimal("4560.00")),
        "cotraitant": ("MISE_EN_PAIEMENT", Decimal("12426.00")), "st_co": ("MISE_EN_PAIEMENT", Decimal("5130.00"))}
    a19 = piece(app, etat.validated_piece_id)
    assert (a19.status, a19.paid_amount, a19.paid_on) == ("MISE_EN_PAIEMENT", Decimal("34428.00"), date(2026, 7, 6))
    # Each payee is told of each payment of its line, with the amount paid (issue 15): what its bank will show.
    def told(company):
        found = rows(app, Notification, Notification.structure_id == company.structure_id,
                     Notification.kind == "piece_status", order_by=Notification.id)
        return [" ".join(n.text.replace("\u202f", " ").replace("\xa0", " ").split()) for n in found
                if n.text.startswith("Paiement de")]
    st1_told = told(w.st1)
    assert len(st1_told) == 2, st1_told
    assert st1_told[0].startswith("Paiement de 2 000,00 € le 15 juin 2026 : votre ligne de l'état d'acompte n° 1")
    assert "Reste à payer sur cette ligne : 2 560,00 €." in st1_told[0]
    assert st1_told[1].startswith("Paiement de 2 560,00 € le 19 juin 2026") and "payée en entier" in st1_told[1]
    assert "retard" not in " ".join(st1_told)
    [late] = told(w.st_co)
    assert ("Payé avec 16 jours de retard : intérêts moratoires de 22,82 € et indemnité forfaitaire de 40,00 € dus."
            in late), late
    assert told(w.moe) == [] and len(told(w.mandataire)) == 1


def test_bad_payments_are_refused_in_french_and_change_nothing(app, db):
    w = world(app)
    month_of_may(app, w)
    etat_id = open_etat(app, w, "2026-05", at("2026-05-22"))
    issue(app, w, etat_id, at("2026-05-23"))
    st1_id = _lines(app, etat_id)  # no line before the validation
    assert st1_id == {}
    with pytest.raises(OperationError, match="pas encore validé par le maître d'ouvrage"):
        from chorus_chain.operations.etat_pieces import paying
        from tests.integration.etat_pieces_world import moa

        moa(app, w, lambda access, account, structure: paying.record_service_fait(
            access, etat_id, 0, account, structure, "2026-06-01", now=at("2026-06-01")))
    validate(app, w, etat_id, at("2026-05-26"))
    line = _lines(app, etat_id)[w.st1.name]  # 9 120.00 (no correction here: 9 600 − 5 % × 9 600)
    assert line.amount == Decimal("9120.00")
    with pytest.raises(OperationError, match="Mandatez d'abord"):
        pay(app, w, etat_id, line.id, amount="1.00", paid_on="2026-06-10")
    pay(app, w, etat_id, line.id, service_fait="2026-06-01", mandat="2026-06-05")
    before = count(app, LinePayment)
    with pytest.raises(OperationError, match="dépasse ce qui reste à payer"):
        pay(app, w, etat_id, line.id, amount="9120.01", paid_on="2026-06-10")
    with pytest.raises(OperationError, match="ne peut précéder le mandatement"):
        pay(app, w, etat_id, line.id, amount="100.00", paid_on="2026-06-04")
    with pytest.raises(OperationError, match="Le montant payé"):
        pay(app, w, etat_id, line.id, amount="douze", paid_on="2026-06-10")
    assert count(app, LinePayment) == before
    pay(app, w, etat_id, line.id, amount="9120.00", paid_on="2026-06-10")
    with pytest.raises(OperationError, match="déjà payée en entier"):
        pay(app, w, etat_id, line.id, amount="1.00", paid_on="2026-06-11")
    assert count(app, LinePayment) == before + 1
    assert _lines(app, etat_id)[w.st1.name].paid_amount == Decimal("9120.00")
    # Validating again: told, nothing changes.
    with pytest.raises(OperationError, match="a déjà été validé"):
        validate(app, w, etat_id, at("2026-06-12"))
    assert count(app, PayableLine, PayableLine.etat_acompte_id == etat_id) == 4


def test_an_etat_returned_by_the_moa_is_issued_again_as_bis(app, db):
    w = world(app)
    pdm = month_of_may(app, w)
    etat_id = open_etat(app, w, "2026-05", at("2026-05-22"))
    issue(app, w, etat_id, at("2026-05-23"))
    first_a15 = _etat(app, etat_id).piece_id
    events = count(app, PieceEvent)
    with pytest.raises(OperationError, match="Indiquez pourquoi"):
        return_etat(app, w, etat_id, "   ", at("2026-05-25"))
    assert count(app, PieceEvent) == events and _etat(app, etat_id).status == "issued"

    again_id = return_etat(app, w, etat_id, "L'avancement de Plâtrerie Test est surévalué : 5 % constatés.",
                           at("2026-05-25"))
    returned, again = _etat(app, etat_id), _etat(app, again_id)
    assert (returned.status, returned.return_reason[:27]) == ("returned", "L'avancement de Plâtrerie T")
    assert (again.status, again.number, again.label, again.replaces_id) == ("draft", 1, "1 bis", etat_id)
    assert piece(app, first_a15).status == "REFUSEE_MOA"
    # The PDMs are back on the MOE's desk, free for the état issued again; the link rows keep the history.
    assert {piece(app, p).status for p in pdm.values()} == {"PRISE_EN_COMPTE_MOE"}
    assert {d.etat_acompte_id for d in rows(app, Decompte, Decompte.marche_id == w.marche_id)} == {None}
    assert count(app, EtatAcomptePdm, EtatAcomptePdm.etat_acompte_id == etat_id) == 4
    # Paying on the returned état: refused, in French.
    with pytest.raises(OperationError, match="a été renvoyé au maître d'œuvre"):
        pay(app, w, etat_id, 1, service_fait="2026-05-26")
    with pytest.raises(OperationError, match="a été renvoyé au maître d'œuvre"):
        validate(app, w, etat_id, at("2026-05-26"))

    correct_st1(app, w, again_id)
    issue(app, w, again_id, at("2026-05-27"))
    again = _etat(app, again_id)
    a15 = piece(app, again.piece_id)
    assert a15.number == f"EA-M{w.marche_id}-001-BIS" and a15.status == "A_ASSOCIER_MOA"
    assert again.result["marche"]["amount_due"]["this"] == "34428.00"
    validate(app, w, again_id, at("2026-05-28"))
    assert sum(line.amount for line in _lines(app, again_id).values()) == Decimal("34428.00")
    kinds = [e.kind for e in rows(app, MarcheEvent, MarcheEvent.marche_id == w.marche_id)
             if e.kind.startswith("etat_acompte_")]
    assert kinds == ["etat_acompte_opened", "etat_acompte_issued", "etat_acompte_returned", "etat_acompte_issued",
                     "etat_acompte_validated"]


def test_the_a15_is_seen_by_the_moe_and_the_moa_only(app, db):
    w = world(app)
    month_of_may(app, w)
    etat_id = open_etat(app, w, "2026-05", at("2026-05-22"))
    issue(app, w, etat_id, at("2026-05-23"))
    a15 = _etat(app, etat_id).piece_id
    with system(app):
        seen = set(db.session.scalars(select(PieceAccess.structure_id).where(PieceAccess.piece_id == a15)))
    assert seen == {w.moe.structure_id, w.moa.structure_id}


def test_the_a15_and_the_a19_are_not_answered_piece_by_piece(app, db):
    from tests.integration.pieces_world import act

    w = world(app)
    pdm = month_of_may(app, w)
    etat_id = open_etat(app, w, "2026-05", at("2026-05-22"))
    issue(app, w, etat_id, at("2026-05-23"))
    a15 = _etat(app, etat_id).piece_id
    events = count(app, PieceEvent)
    with pytest.raises(OperationError, match="se valide .* comme un seul document"):
        act(app, w.moa, a15, "moa_take")
    with pytest.raises(OperationError, match="circule dans l'état d'acompte"):
        act(app, w.moa, pdm["st1"], "return_etat", reason="non")
    assert count(app, PieceEvent) == events
    validate(app, w, etat_id, at("2026-05-26"))
    a19 = _etat(app, etat_id).validated_piece_id
    with pytest.raises(OperationError, match="se paie ligne par ligne"):
        act(app, w.moa, a19, "mark_service_fait")
    from chorus_chain.models import Structure
    from chorus_chain.operations import pieces_actions

    with system(app):
        moa = db.session.get(Structure, w.moa.structure_id)
        assert pieces_actions.allowed_actions_for(db.session.get(Piece, a19), moa) == []


def test_the_moa_synthese_lists_the_etat_not_the_pdms_it_carries(app, db):
    """A PDM covered by an état reaches the MOA, then the paying office, only inside it: their Synthèse lists the
    A15, then the A19 — never the PDMs beside them. A returned état's PDMs are the MOE's again."""
    from chorus_chain.operations import dashboard
    from tests.integration.pieces_world import acting

    def synthese(who) -> set[str]:
        with acting(app, who) as (_, structure):
            return {row.piece.cadre for row in dashboard.work_list(structure, works=None, per_page=100).page.items}

    w = world(app)
    month_of_may(app, w)
    etat_id = open_etat(app, w, "2026-05", at("2026-05-22"))
    issue(app, w, etat_id, at("2026-05-23"))
    assert synthese(w.moa) == {"A15"}
    again = return_etat(app, w, etat_id, "Avancement à revoir.", at("2026-05-24"))
    assert synthese(w.moa) == set() and synthese(w.moe) == {"A4", "A10", "A13"}
    issue(app, w, again, at("2026-05-25"))
    assert synthese(w.moa) == {"A15"} and synthese(w.moe) == set()
    validate(app, w, again, at("2026-05-26"))
    assert synthese(w.moa) == {"A19"}  # the MOA's structure is also the paying office here


def test_the_a15_carries_the_etat_pdf_as_its_main_file(app, db):
    """Issuing the état queues its PDF (an outbox row in the issue's transaction); the documents worker renders it
    from the frozen result and attaches it to the A15 as its main file — once, however often the job runs."""
    import io

    from pypdf import PdfReader

    from chorus_chain.jobs.outbox import run
    from chorus_chain.models import OutboxJob, PieceFile, StoredFile

    w = world(app)
    month_of_may(app, w)
    etat_id = open_etat(app, w, "2026-05", at("2026-05-22"))
    correct_st1(app, w, etat_id)
    issue(app, w, etat_id, at("2026-05-23"))
    a15 = _etat(app, etat_id).piece_id
    [job] = rows(app, OutboxJob, OutboxJob.job == "store_etat_pdf")
    assert job.payload == {"etat_id": etat_id} and job.status == "pending"
    assert count(app, PieceFile, PieceFile.piece_id == a15) == 0  # not yet: the worker renders it
    with app.app_context():
        run(job.id)
    [main] = rows(app, PieceFile, PieceFile.piece_id == a15)
    assert (main.role, main.content_type, main.name) == ("main", "application/pdf", "état-acompte-1.pdf")
    assert rows(app, OutboxJob, OutboxJob.id == job.id)[0].status == "done"
    with system(app):
        content = db.session.scalar(select(StoredFile.content).where(StoredFile.sha256 == main.sha256))
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    assert "34" in text and "428,00" in text.replace("\u202f", " ")  # the état's amount due, 34 428,00 €
    # Run again (a retried try): nothing more.
    from chorus_chain.jobs.documents import store_etat_pdf

    with app.app_context():
        assert store_etat_pdf(etat_id) is False
    assert count(app, PieceFile, PieceFile.piece_id == a15) == 1


def test_a_pdm_leaves_the_moe_only_inside_the_etat_being_issued(app, db):
    """No switch forwards a projet de décompte alone (issue 12): the piece action is refused whoever calls it, and
    the état's own move refuses a PDM whose décompte the état being issued does not carry; nothing changes. Issuing
    the état moves all four."""
    from chorus_chain.operations import pieces_actions
    from tests.integration.pieces_world import acting, status_of

    w = world(app)
    pdm = month_of_may(app, w)
    etat_id = open_etat(app, w, "2026-05", at("2026-05-22"))
    events = count(app, PieceEvent)
    with acting(app, w.moe) as (account, structure):
        with pytest.raises(OperationError, match="jamais seul"):
            pieces_actions.act(pdm["st1"], account, structure, "issue_etat_acompte",
                               expected_status="PRISE_EN_COMPTE_MOE", now=at("2026-05-22"))
        with pytest.raises(TypeError):  # the former `via_etat=True` switch is gone
            pieces_actions.act(pdm["st1"], account, structure, "issue_etat_acompte",
                               expected_status="PRISE_EN_COMPTE_MOE", now=at("2026-05-22"), via_etat=True)
        draft = db.session.get(EtatAcompte, etat_id)
        # The open draft lists the PDM, but its décompte is attached to the état only when the MOE issues it.
        with pytest.raises(OperationError, match="jamais seul"):
            pieces_actions.issue_into_etat(pdm["st1"], draft, account, structure,
                                           expected_status="PRISE_EN_COMPTE_MOE", amount=None, comment=None,
                                           contest=False, now=at("2026-05-22"))
        db.session.rollback()
    assert count(app, PieceEvent) == events
    assert {status_of(app, piece_id) for piece_id in pdm.values()} == {"PRISE_EN_COMPTE_MOE"}
    issue(app, w, etat_id, at("2026-05-23"))
    assert {status_of(app, piece_id) for piece_id in pdm.values()} == {"A_ASSOCIER_MOA"}


def test_the_a19_carries_the_validated_etat_pdf_as_its_main_file(app, db):
    """The MOA's validation queues the validated état's PDF (an outbox row in the validation's transaction); the
    documents worker renders it — the état's frozen figures, headed by the MOA, « Validé le » its day — and attaches
    it to the A19 as its main file, once however often the job runs."""
    import io

    from pypdf import PdfReader

    from chorus_chain.jobs.documents import store_etat_valide_pdf
    from chorus_chain.jobs.outbox import run
    from chorus_chain.models import OutboxJob, PieceFile, StoredFile

    w = world(app)
    month_of_may(app, w)
    etat_id = open_etat(app, w, "2026-05", at("2026-05-22"))
    correct_st1(app, w, etat_id)
    issue(app, w, etat_id, at("2026-05-23"))
    assert rows(app, OutboxJob, OutboxJob.job == "store_etat_valide_pdf") == []  # issued, not yet validated
    validate(app, w, etat_id, at("2026-05-26"))
    etat = _etat(app, etat_id)
    a19 = piece(app, etat.validated_piece_id)
    [job] = rows(app, OutboxJob, OutboxJob.job == "store_etat_valide_pdf")
    assert job.payload == {"etat_id": etat_id} and job.status == "pending"
    assert count(app, PieceFile, PieceFile.piece_id == a19.id) == 0  # not yet: the worker renders it
    with app.app_context():
        run(job.id)
    [main] = rows(app, PieceFile, PieceFile.piece_id == a19.id)
    assert (main.role, main.content_type, main.name) == ("main", "application/pdf", "état-acompte-validé-1.pdf")
    assert rows(app, OutboxJob, OutboxJob.id == job.id)[0].status == "done"
    with system(app):
        content = db.session.scalar(select(StoredFile.content).where(StoredFile.sha256 == main.sha256))
        a15_number = db.session.get(Piece, etat.piece_id).number
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    text = " ".join(text.replace("\u202f", " ").replace("\xa0", " ").split())
    assert "État d'acompte validé" in text and "Validé le 26 mai 2026 par Commune de Test" in text
    assert a19.number in text and a15_number in text
    assert "34 428,00" in text  # the état's amount due, as frozen (tests/integration/etat_pieces_world.py)
    # Run again (a retried try): nothing more.
    with app.app_context():
        assert store_etat_valide_pdf(etat_id) is False
    assert count(app, PieceFile, PieceFile.piece_id == a19.id) == 1
