"""Acting on deposited pieces at the operations level: the validation circuits (partial acceptance, wrong validator,
two validators), the works side through to the payment, the return branches of the paying office, the rule that a
works piece is never refused for its amount, the end of contract, and the notifications each step sends."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from chorus_chain.domain import transitions as T
from chorus_chain.models import Deadline, MailMessage, Notification, Piece, PieceEvent, PieceFile
from chorus_chain.operations import OperationError
from chorus_chain.operations import pieces as ops
from tests.integration.pieces_world import mails as queued_mails
from tests.integration.pieces_world import (
    NOW,
    PDF,
    act,
    acting,
    count,
    deposit,
    later,
    piece,
    rows,
    status_of,
    world,
)


def replayed(app, piece_id: int) -> str:
    row = piece(app, piece_id)
    events = rows(app, PieceEvent, PieceEvent.piece_id == piece_id, order_by=PieceEvent.seq)
    return T.replay(events, row.route_steps, cadre=row.cadre).value


def test_a10_walks_the_whole_works_route_to_the_payment(app, db):
    w = world(app)
    piece_id = deposit(app, w, w.st1, "A10", "F-1", ht="10000.00")
    assert act(app, w.mandataire, piece_id, "validate", now=later(1)) == "A_ASSOCIER_MOE"
    assert act(app, w.moe, piece_id, "take", now=later(2)) == "PRISE_EN_COMPTE_MOE"
    # The MOE corrects the amount in its état d'acompte: the emitter gets 30 days to contest.
    assert act(app, w.moe, piece_id, "issue_etat_acompte", amount="9 500,00", now=later(3)) == "A_ASSOCIER_MOA"
    contest = rows(app, Deadline, Deadline.piece_id == piece_id, Deadline.kind == "contest_moe_corrections")
    assert len(contest) == 1 and (contest[0].due_at - later(3)).days == 30
    assert act(app, w.moa, piece_id, "moa_take", now=later(4)) == "PRISE_EN_COMPTE_MOA"
    assert act(app, w.moa, piece_id, "moa_validate", now=later(5)) == "MISE_A_DISPOSITION"
    assert act(app, w.moa, piece_id, "mark_service_fait", now=later(6)) == "SERVICE_FAIT"
    assert act(app, w.moa, piece_id, "mark_mandatee", now=later(7)) == "MANDATEE"
    with pytest.raises(OperationError) as refused:
        act(app, w.moa, piece_id, "mark_paid", now=later(8), amount="9500,00")
    assert refused.value.field == "paid_on"
    assert act(app, w.moa, piece_id, "mark_paid", now=later(8), amount="9500,00",
               paid_on="2026-03-10") == "MISE_EN_PAIEMENT"
    paid = piece(app, piece_id)
    assert (paid.paid_on, paid.paid_amount, paid.accepted_amount) == (date(2026, 3, 10), Decimal("9500.00"),
                                                                      Decimal("9500.00"))
    assert replayed(app, piece_id) == "MISE_EN_PAIEMENT"
    clocks = {d.kind: d for d in rows(app, Deadline, Deadline.piece_id == piece_id)}
    assert clocks["validation_1"].done_at == later(1) and clocks["moe"].done_at == later(3)
    assert clocks["paiement"].done_at == later(8) and (clocks["paiement"].due_at - later(1)).days == 30
    actions = [(e.action, e.actor_step, e.actor) for e in
               rows(app, PieceEvent, PieceEvent.piece_id == piece_id, order_by=PieceEvent.seq)]
    assert ("forward", "system", "system") in actions and ("make_available", "system", "system") in actions
    # The état's PDF is its A15's main file (tests/integration/test_etat_pieces.py), not attached to the PDM.
    assert [row.role for row in rows(app, PieceFile, PieceFile.piece_id == piece_id)] == ["main"]


def test_partial_acceptance(app, db):
    w = world(app)
    piece_id = deposit(app, w, w.st1, "A10", "F-1", ht="1000.00")
    for amount, message in (("1000,00", "doit être inférieur au montant demandé"), ("0", "supérieur à zéro"),
                            ("12,345", "au plus deux décimales"), ("", "Indiquez le montant accepté")):
        with pytest.raises(OperationError, match=message) as refused:
            act(app, w.mandataire, piece_id, "validate_partially", amount=amount, reason="Métré contradictoire")
        assert refused.value.field == "amount"
    assert act(app, w.mandataire, piece_id, "validate_partially", amount="800,00",
               reason="Métré contradictoire") == "A_ASSOCIER_MOE"
    assert piece(app, piece_id).accepted_amount == Decimal("800.00")
    event = rows(app, PieceEvent, PieceEvent.piece_id == piece_id, PieceEvent.action == "validate_partially")[0]
    assert (event.amount, event.actor_siret) == (Decimal("800.00"), w.mandataire.siret)
    # The depositor is told why, and how much was accepted.
    told = rows(app, Notification, Notification.structure_id == w.st1.structure_id, Notification.piece_id == piece_id,
                Notification.kind == "piece_status")
    assert told and "Motif : Métré contradictoire." in told[-1].text and "Montant accepté : 800,00" in told[-1].text


def test_only_the_validator_validates_and_wrong_validator_goes_back_to_the_emitter(app, db):
    w = world(app)
    piece_id = deposit(app, w, w.st1, "A10", "F-1")
    with pytest.raises(OperationError, match="réservée au donneur d'ordre"):
        act(app, w.moe, piece_id, "validate")  # on the route, but not the validator
    with pytest.raises(OperationError, match="n'existe pas ou vous n'y avez pas accès"):
        act(app, w.sibling, piece_id, "validate", expected="A_VALIDER_1")  # does not even see it
    with pytest.raises(OperationError, match="réservée"):
        act(app, w.st1, piece_id, "validate")  # the emitter does not validate its own piece
    assert act(app, w.mandataire, piece_id, "wrong_validator", reason="Nous ne sommes pas votre donneur d'ordre") \
        == "ERREUR_FOURNISSEUR_SUR_VALIDEUR"
    with acting(app, w.st1) as (_, structure):
        assert [c.action for c in ops.allowed_actions_for(ops.piece_for(structure, piece_id), structure)] == \
            ["redirect_validator"]
    assert act(app, w.st1, piece_id, "redirect_validator") == "A_VALIDER_1"
    events = rows(app, PieceEvent, PieceEvent.piece_id == piece_id, PieceEvent.action == "redirect_validator")
    assert events[0].extra["route"]["after"][0] == f"validation_1:{w.mandataire.siret}"
    assert count(app, Deadline, Deadline.piece_id == piece_id, Deadline.kind == "validation_1",
                 Deadline.done_at.is_(None)) == 1  # the clock runs again, once
    assert replayed(app, piece_id) == "A_VALIDER_1"


def test_two_validators_for_a_sous_traitant_of_a_cotraitant(app, db):
    w = world(app)
    piece_id = deposit(app, w, w.st_co, "A10", "F-1")
    with pytest.raises(OperationError, match="réservée"):
        act(app, w.mandataire, piece_id, "validate")  # validator 2 waits for validator 1
    assert act(app, w.cotraitant, piece_id, "validate") == "A_VALIDER_2"
    assert act(app, w.mandataire, piece_id, "validate") == "A_ASSOCIER_MOE"
    assert replayed(app, piece_id) == "A_ASSOCIER_MOE"


def test_refusal_needs_a_reason_is_final_and_acknowledged_once(app, db):
    w = world(app)
    piece_id = deposit(app, w, w.st1, "A10", "F-1")
    with pytest.raises(OperationError) as refused:
        act(app, w.mandataire, piece_id, "refuse")
    assert refused.value.field == "reason"
    with pytest.raises(OperationError) as refused:
        act(app, w.mandataire, piece_id, "refuse", reason="autre")
    assert refused.value.field == "comment"
    assert act(app, w.mandataire, piece_id, "refuse", reason="non_conforme", comment="Cloisons non réceptionnées") \
        == "REFUSEE_1"
    status = rows(app, Notification, Notification.structure_id == w.st1.structure_id,
                  Notification.kind == "piece_status")
    assert status and "Refusée" in status[-1].text and "non conformes" in status[-1].text
    assert act(app, w.st1, piece_id, "acknowledge_rejection") == "REFUSEE_1"
    with pytest.raises(OperationError, match="déjà pris acte"):
        act(app, w.st1, piece_id, "acknowledge_rejection")
    assert count(app, Deadline, Deadline.piece_id == piece_id, Deadline.done_at.is_(None)) == 0


def test_a_works_piece_is_never_refused_for_its_amount(app, db):
    w = world(app)
    piece_id = deposit(app, w, w.st1, "A10", "F-1")
    with acting(app, w.mandataire) as (_, structure):
        refuse = next(c for c in ops.allowed_actions_for(ops.piece_for(structure, piece_id), structure)
                      if c.action == "refuse")
        assert "montant" not in dict(refuse.reasons)
    with pytest.raises(OperationError, match="19 février 2025") as refused:
        act(app, w.mandataire, piece_id, "refuse", reason="montant")
    assert refused.value.field == "reason" and "validez-la partiellement" in refused.value.message
    act(app, w.mandataire, piece_id, "validate")
    with pytest.raises(OperationError, match="corrigez les montants dans votre état d'acompte"):
        act(app, w.moe, piece_id, "refuse", reason="montant")
    # A services invoice may be refused for its amount.
    s = world(app, kind="services")
    invoice = deposit(app, s, s.st1, "A9", "F-1")
    assert act(app, s.mandataire, invoice, "refuse", reason="montant") == "REFUSEE_1"


def test_return_branches_of_the_paying_office(app, db):
    w = world(app, kind="services")
    piece_id = deposit(app, w, w.mandataire, "A1", "F-1")
    # À recycler: only the routing fields change, under the same number.
    assert act(app, w.moa, piece_id, "recycle", reason="code_service") == "A_RECYCLER"
    assert count(app, Deadline, Deadline.piece_id == piece_id, Deadline.kind == "paiement",
                 Deadline.done_at.is_(None)) == 0  # a misrouted piece was not received: no DGP
    with pytest.raises(OperationError, match="Seuls le SIRET"):
        act(app, w.mandataire, piece_id, "resend", changes={"montant_ttc": "1,00"})
    with pytest.raises(OperationError) as refused:
        act(app, w.mandataire, piece_id, "resend", changes={"service_code": "NOPE"})
    assert refused.value.field == "service_code" and "pas de service de code" in refused.value.message
    assert act(app, w.mandataire, piece_id, "resend", changes={"service_code": "TECH"},
               now=later(2)) == "MISE_A_DISPOSITION"
    resent = piece(app, piece_id)
    assert (resent.number, resent.service_code, resent.received_at) == ("F-1", "TECH", later(2))
    # Suspendue: documents missing; completed with attachments, processing resumes.
    assert act(app, w.moa, piece_id, "suspend", reason="Attestation d'assurance manquante") == "SUSPENDUE"
    with pytest.raises(OperationError) as refused:
        act(app, w.mandataire, piece_id, "complete")
    assert refused.value.field == "files"
    assert act(app, w.mandataire, piece_id, "complete",
               files=[ops.UploadedFile("attestation.pdf", PDF + b"att")]) == "COMPLETEE"
    assert [f.role for f in rows(app, PieceFile, PieceFile.piece_id == piece_id)] == ["main", "completion"]
    # Rejetée: final; a new piece with a new number follows.
    assert act(app, w.moa, piece_id, "reject", reason="doublon") == "REJETEE"
    with pytest.raises(OperationError, match="son traitement est terminé"):
        act(app, w.moa, piece_id, "mark_service_fait")
    assert replayed(app, piece_id) == "REJETEE"


def test_a_stale_page_gets_already_processed(app, db):
    w = world(app)
    piece_id = deposit(app, w, w.st1, "A10", "F-1")
    act(app, w.mandataire, piece_id, "validate")
    with pytest.raises(OperationError, match=r"déjà été traitée \(statut actuel : Chez le maître d'œuvre\)"):
        act(app, w.mandataire, piece_id, "refuse", reason="non_conforme", expected="A_VALIDER_1")


def test_allowed_actions_follow_the_part_each_structure_plays(app, db):
    w = world(app)
    piece_id = deposit(app, w, w.mandataire, "A4", "PDM-1")

    def offered(who):
        with acting(app, who) as (_, structure):
            found = ops.piece_for(structure, piece_id)
            return [] if found is None else [c.action for c in ops.allowed_actions_for(found, structure)]

    assert offered(w.moe) == ["take", "refuse"]
    assert offered(w.mandataire) == [] and offered(w.moa) == [] and offered(w.st1) == []
    act(app, w.moe, piece_id, "take")
    act(app, w.moe, piece_id, "issue_etat_acompte")
    act(app, w.moa, piece_id, "moa_take")
    act(app, w.moa, piece_id, "moa_validate")
    # The MOA's structure is also the paying office: the paying office's actions.
    assert offered(w.moa) == ["mark_service_fait", "recycle", "suspend", "reject"]
    with acting(app, w.moa) as (_, structure):
        choices = {c.action: c for c in ops.allowed_actions_for(ops.piece_for(structure, piece_id), structure)}
    assert choices["recycle"].reason == "recycle" and dict(choices["recycle"].reasons)["code_service"]
    assert choices["suspend"].reason == "text" and choices["mark_service_fait"].reason is None


def test_end_of_contract_the_holder_signs_the_decompte_general(app, db):
    w = world(app)
    pdg = deposit(app, w, w.moe, "A17", "PDG-1")
    act(app, w.moa, pdg, "moa_take")
    assert act(app, w.moa, pdg, "moa_validate") == "A_ASSOCIER_FOURNISSEUR"
    assert count(app, Deadline, Deadline.piece_id == pdg, Deadline.kind == "dg_signature",
                 Deadline.done_at.is_(None)) == 1
    with pytest.raises(OperationError):
        act(app, w.cotraitant, pdg, "sign_dg")  # only the holder of the marché signs
    assert act(app, w.mandataire, pdg, "sign_dg_with_reservations", reason="Révision mal calculée") == "ASSOCIEE"
    dgd = deposit(app, w, w.mandataire, "A8", "DGD-1", previous_piece_id=str(pdg))
    assert status_of(app, dgd) == "MISE_A_DISPOSITION"
    assert piece(app, dgd).dossier_number == piece(app, pdg).dossier_number


def test_private_invoice_to_the_contractor(app, db):
    w = world(app)
    piece_id = deposit(app, w, w.st2, None, "P-1", ht="500.00")
    assert act(app, w.st1, piece_id, "validate_partially", amount="450", reason="Une pièce manquante") == "ACCEPTEE_CONTRACTANT"
    assert act(app, w.st1, piece_id, "mark_paid", amount="450", paid_on="2026-03-02") == "PAYEE_CONTRACTANT"
    # A rang-2's private invoice is read by its two parties only (issue 13, graph.visible_structures): the
    # contractor above its contractor does not see it at all.
    with acting(app, w.mandataire) as (_, structure):
        assert ops.piece_for(structure, piece_id) is None


def test_notifications_reach_whoever_must_act_per_preferences(app, db):
    w = world(app)
    with acting(app, w.mandataire) as (account, _):
        ops.set_preference(account, "piece_to_act", by_email=False, in_app=True)
    mails_before = count(app, MailMessage)
    piece_id = deposit(app, w, w.st1, "A10", "F-1")
    assert count(app, MailMessage) == mails_before  # the mandataire's gestionnaire asked for no e-mail
    with acting(app, w.mandataire) as (account, structure):
        assert ops.unread_count(account, structure) == 1
        [note] = ops.unread_notifications(account, structure)
        assert note.piece_id == piece_id and note.url == f"/s/{w.mandataire.siret}/pieces/{piece_id}"
        assert "À valider par le donneur d'ordre" in note.text
        assert ops.mark_read(account, structure, now=NOW) == 1
        assert ops.unread_count(account, structure) == 0
        prefs = {kind: (email, in_app) for kind, _, email, in_app in ops.preferences(account)}
        assert prefs["piece_to_act"] == (False, True) and prefs["piece_status"] == (True, True)
    act(app, w.mandataire, piece_id, "validate")
    mails = queued_mails(app, MailMessage.account_id == w.moe.account_id)
    assert mails and mails[-1].subject.startswith("À traiter : pièce n° F-1")
    assert f"/s/{w.moe.siret}/pieces/{piece_id}" in mails[-1].body
    with acting(app, w.st1) as (account, structure):  # the emitter follows its piece
        assert any("Chez le maître d'œuvre" in n.text for n in ops.unread_notifications(account, structure))


def test_who_acts_and_boxes(app, db):
    w = world(app)
    piece_id = deposit(app, w, w.st1, "A10", "F-1")
    with acting(app, w.mandataire) as (_, structure):
        assert ops.who_acts(ops.piece_for(structure, piece_id)) == [w.mandataire.structure_id]
        assert [r.piece.id for r in ops.pieces_for(structure, box="a_traiter").items] == [piece_id]
        assert [r.piece.id for r in ops.pieces_for(structure, box="recues").items] == [piece_id]
        assert ops.pieces_for(structure, box="emises").total == 0
    with acting(app, w.st1) as (_, structure):
        page = ops.pieces_for(structure, box="emises")
        assert page.total == 1 and page.items[0].next_deadline.kind == "validation_1"
        assert ops.pieces_for(structure, box="a_traiter").total == 0
    act(app, w.mandataire, piece_id, "validate")
    with acting(app, w.mandataire) as (_, structure):
        assert ops.pieces_for(structure, box="a_traiter").total == 0
    with acting(app, w.moe) as (_, structure):
        assert [r.piece.number for r in ops.pieces_for(structure, box="a_traiter").items] == ["F-1"]
    assert status_of(app, piece_id) == "A_ASSOCIER_MOE"
    assert count(app, Piece) == 1
