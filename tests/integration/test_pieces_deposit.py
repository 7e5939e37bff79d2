"""Drafts and deposits at the operations level, on the real database: every route kind, the pre-flight check that
catches what would come back "à recycler", and bad input refused with a French field-level error that leaves
nothing behind."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from chorus_chain.domain import numbering
from chorus_chain.domain import transitions as T
from chorus_chain.models import (
    Deadline,
    MarcheParty,
    Notification,
    OutboxJob,
    Piece,
    PieceAccess,
    PieceEvent,
    PieceFile,
    Service,
    StoredFile,
)
from chorus_chain.operations import OperationError
from chorus_chain.operations import pieces as ops
from tests.integration.pieces_world import (
    NOW,
    PDF,
    acting,
    act,
    count,
    create,
    deposit,
    draft_form,
    piece,
    rows,
    status_of,
    system,
    world,
)

# (world kind, depositor, cadre, first resting status, route steps, structures that see it besides the route)
ROUTES = [
    ("travaux", "st1", "A10", "A_VALIDER_1", ("validation_1", "moe", "moa", "paiement"), set()),
    ("travaux", "st_co", "A10", "A_VALIDER_1", ("validation_1", "validation_2", "moe", "moa", "paiement"), set()),
    ("travaux", "mandataire", "A4", "A_ASSOCIER_MOE", ("moe", "moa", "paiement"), set()),
    ("travaux", "cotraitant", "A13", "A_VALIDER_1", ("validation_1", "moe", "moa", "paiement"), set()),
    # A rang 2's private invoice to its rang 1: seen by those two only, never the contractor above (CONTRIBUTING).
    ("travaux", "st2", None, "TRANSMISE_CONTRACTANT", ("contractor",), set()),
    ("travaux", "moe", "A17", "A_ASSOCIER_MOA", ("moa",), {"mandataire"}),
    ("travaux", "moe", "A15", "A_ASSOCIER_MOA", ("moa",), set()),  # the A19 goes on to the paying office
    ("travaux", "moa", "A19", "MISE_A_DISPOSITION", ("paiement",), set()),
    ("services", "mandataire", "A1", "MISE_A_DISPOSITION", ("paiement",), set()),
    ("services", "st1", "A9", "A_VALIDER_1", ("validation_1", "paiement"), set()),
    ("services", "cotraitant", "A12", "A_VALIDER_1", ("validation_1", "paiement"), set()),
]


@pytest.mark.parametrize("kind, who, cadre, status, steps, others", ROUTES,
                         ids=[f"{r[0]}-{r[1]}-{r[2] or 'prive'}" for r in ROUTES])
def test_deposit_of_each_route_kind(app, db, kind, who, cadre, status, steps, others):
    w = world(app, kind=kind)
    emitter = getattr(w, who)
    piece_id = deposit(app, w, emitter, cadre, "F-2026-001")
    deposited = piece(app, piece_id)
    assert deposited.status == status
    assert deposited.route_steps == steps
    assert deposited.deposited_at == NOW and deposited.cadre == cadre
    assert numbering.parse_dossier_number(deposited.dossier_number) == (2026, piece_id)
    # The access rows come from the graph: the emitter, every structure of the route, the contractors above.
    route_structures = {step["structure_id"] for step in deposited.route}
    seen_by = {row.structure_id for row in rows(app, PieceAccess, PieceAccess.piece_id == piece_id)}
    assert seen_by == {emitter.structure_id} | route_structures | {getattr(w, o).structure_id for o in others}
    assert w.sibling.structure_id not in seen_by
    # One event per transition, hash-chained; replaying them gives the status.
    events = rows(app, PieceEvent, PieceEvent.piece_id == piece_id, order_by=PieceEvent.seq)
    assert [e.action for e in events][:2] == ["create", "deposit"]
    assert T.replay(events, steps, cadre=cadre) == status
    assert deposited.head_hash == events[-1].hash
    assert events[1].extra["montant_ttc"] == f"{deposited.montant_ttc:.2f}"
    # Whoever must act is told (not the depositor itself: the MOA is also the paying office of its A19).
    waiting = T.current_step(status)
    target = next(step["structure_id"] for step in deposited.route if step["step"] == waiting)
    told = count(app, Notification, Notification.structure_id == target, Notification.piece_id == piece_id,
                 Notification.kind == "piece_to_act")
    assert told == (0 if target == emitter.structure_id else 1)


def test_deposit_opens_the_clocks_of_the_first_step(app, db):
    w = world(app)
    validation = deposit(app, w, w.st1, "A10", "F-1")
    works = deposit(app, w, w.mandataire, "A4", "PDM-1")
    clocks = {d.piece_id: (d.kind, d.due_at) for d in rows(app, Deadline, Deadline.piece_id.is_not(None))
              if d.kind != "paiement"}
    assert clocks[validation][0] == "validation_1" and (clocks[validation][1] - NOW).days == 15
    assert clocks[works][0] == "moe" and (clocks[works][1] - NOW).days == 7  # the marché's MOE deadline
    dgp = rows(app, Deadline, Deadline.piece_id == works, Deadline.kind == "paiement")
    assert len(dgp) == 1 and (dgp[0].due_at - NOW).days == 30  # the DGP runs from the MOE's receipt
    assert piece(app, works).received_at == NOW and piece(app, works).received_by_moe_at == NOW


def test_deposit_choices_speak_french_and_follow_the_chain(app, db):
    w = world(app)
    with acting(app, w.st1) as (_, structure):
        choices = ops.deposit_choices(structure, w.marche_id)
    assert [(c.cadre, c.label) for c in choices] == [("A10", "Projet de décompte mensuel de sous-traitant")]
    assert [s.step for s in choices[0].steps] == ["validation_1", "moe", "moa", "paiement"]
    with acting(app, w.st2) as (_, structure):
        private = ops.deposit_choices(structure, w.marche_id)
    assert [(c.cadre, c.code) for c in private] == [(None, "privée")]
    with acting(app, w.st1) as (_, structure):
        defaults = ops.draft_defaults(structure, w.marche_id, w.st1.party_id, "A10")
    assert defaults["vat_regime"] == "autoliquidation" and defaults["recipient_siret"] == w.moa.siret
    assert (defaults["service_code"], defaults["engagement_number"]) == ("FIN", "EJ-2026-1")


def test_a_draft_is_not_sent(app, db):
    w = world(app)
    piece_id = create(app, w, w.st1, "A10", "F-1")
    assert status_of(app, piece_id) == "BROUILLON"
    assert count(app, PieceAccess) == 0 and count(app, Deadline, Deadline.piece_id == piece_id) == 0
    assert count(app, Notification) == 0
    with acting(app, w.mandataire) as (_, structure):
        assert ops.piece_for(structure, piece_id) is None  # the validator does not see a draft
    with acting(app, w.st1) as (account, structure):
        draft = ops.piece_for(structure, piece_id)
        assert draft is not None and [f.role for f in draft.files] == ["main"]
        assert ops.preflight(draft, NOW) == []


def test_update_draft_then_deposit_twice_deposits_once(app, db):
    w = world(app)
    piece_id = create(app, w, w.st1, "A10", "F-1")
    form = draft_form(app, w, w.st1, "A10", "F-1-BIS", ht="1500,00")
    with acting(app, w.st1) as (account, structure):
        ops.update_draft(account, structure, piece_id, form, now=NOW)
    assert (piece(app, piece_id).number, str(piece(app, piece_id).montant_ttc)) == ("F-1-BIS", "1500.00")
    with acting(app, w.st1) as (account, structure):
        ops.deposit(piece_id, account, structure, now=NOW)
    with pytest.raises(OperationError, match="déjà été envoyée"), acting(app, w.st1) as (account, structure):
        ops.deposit(piece_id, account, structure, now=NOW)
    with pytest.raises(OperationError, match="ne se modifie plus"), acting(app, w.st1) as (account, structure):
        ops.update_draft(account, structure, piece_id, form, now=NOW)
    assert count(app, PieceEvent, PieceEvent.action == "deposit") == 1


# --- pre-flight: what would come back "à recycler" is caught before it leaves -----------------------------------------


def _preflight_refusal(app, w, who, piece_id) -> ops.PreflightRefused:
    with pytest.raises(ops.PreflightRefused) as refused, acting(app, who) as (account, structure):
        ops.deposit(piece_id, account, structure, now=NOW)
    assert status_of(app, piece_id) == "BROUILLON"
    assert count(app, PieceEvent, PieceEvent.piece_id == piece_id) == 1  # the creation only
    assert count(app, PieceAccess) == 0 and count(app, Notification) == 0
    return refused.value


def test_missing_service_code_when_the_recipient_requires_one(app, db):
    w = world(app)
    piece_id = create(app, w, w.st1, "A10", "F-1", service_code="")
    refused = _preflight_refusal(app, w, w.st1, piece_id)
    assert refused.field == "service_code" and "exige un code service" in refused.message


def test_inactive_or_expired_service(app, db):
    w = world(app)
    with app.app_context():
        fin = db.session.scalar(select(Service).where(Service.structure_id == w.moa.structure_id,
                                                      Service.code == "FIN"))
        fin.active = False
        fin_id = fin.id
        db.session.commit()
    piece_id = create(app, w, w.st1, "A10", "F-1")
    refused = _preflight_refusal(app, w, w.st1, piece_id)
    assert refused.field == "service_code" and "est inactif" in refused.message
    with app.app_context():
        fin = db.session.get(Service, fin_id)
        fin.active, fin.valid_to = True, date(2026, 2, 28)
        db.session.commit()
    refused = _preflight_refusal(app, w, w.st1, piece_id)
    assert "n'est pas valide à cette date" in refused.message


def test_missing_engagement_number_when_the_service_requires_one(app, db):
    w = world(app)
    piece_id = create(app, w, w.st1, "A10", "F-1", engagement_number="")
    refused = _preflight_refusal(app, w, w.st1, piece_id)
    assert refused.field == "engagement_number" and "exige un numéro d'engagement" in refused.message


def test_wrong_recipient_siret(app, db):
    w = world(app)
    piece_id = create(app, w, w.st1, "A10", "F-1", recipient_siret=w.moe.siret)
    refused = _preflight_refusal(app, w, w.st1, piece_id)
    assert refused.field == "recipient_siret" and "à recycler" in refused.message


def test_unconfirmed_validator(app, db):
    w = world(app)
    piece_id = create(app, w, w.st1, "A10", "F-1")
    with app.app_context():
        db.session.get(MarcheParty, w.mandataire.party_id).status = "invited"
        db.session.commit()
    refused = _preflight_refusal(app, w, w.st1, piece_id)
    assert any("n'a pas encore confirmé son rôle" in p.message_fr and "Durand Test" in p.message_fr
               for p in refused.problems)


def test_missing_main_document_and_bank_account(app, db):
    w = world(app)
    piece_id = create(app, w, w.st1, "A10", "F-1", main=None, bank_account_id="")
    refused = _preflight_refusal(app, w, w.st1, piece_id)
    assert {p.field for p in refused.problems} >= {"main_file", "bank_account_id"}


def test_works_sous_traitant_must_invoice_under_autoliquidation(app, db):
    w = world(app)
    piece_id = create(app, w, w.st1, "A10", "F-1", vat_regime="normal", ht="1000.00", tva="200.00")
    refused = _preflight_refusal(app, w, w.st1, piece_id)
    assert refused.field == "vat_regime" and "autoliquidation" in refused.message


# --- bad input: a French field-level error, and nothing left behind ---------------------------------------------------

BAD_INPUT = [
    ("montant_ht", {"montant_ht": "mille euros"}, "n'est pas un montant lisible"),
    ("montant_ht", {"montant_ht": "1000,001", "montant_ttc": "1000,00"}, "au plus deux décimales"),
    ("montant_ttc", {"montant_ht": "1000,00", "montant_tva": "0,00", "montant_ttc": "1000,01"},
     "doit être égal au HT plus la TVA"),
    ("montant_tva", {"montant_ht": "1000,00", "montant_tva": "200,00", "montant_ttc": "1200,00"},
     "autoliquidation"),
    ("number", {"number": "F 2026"}, "ne doit pas contenir d'espace"),
    ("number", {"number": "FACTURE-2026-000000001"}, "20 au plus"),
    ("issue_date", {"issue_date": "2026-13-01"}, "n'est pas une date valide"),
    ("issue_date", {"issue_date": "2026-03-03"}, "dans le futur"),
    ("engagement_number", {"engagement_number": "E" * 51}, "50 au plus"),
    ("recipient_siret", {"recipient_siret": "12345678901234"}, "n'est pas valide"),
    ("cadre", {"cadre": "A4"}, "n'est pas ouvert à votre structure"),
]


def _nothing_left(app) -> None:
    assert count(app, Piece) == 0 and count(app, StoredFile) == 0 and count(app, PieceEvent) == 0
    assert count(app, PieceFile) == 0 and count(app, OutboxJob) == 0


@pytest.mark.parametrize("field, changes, message", BAD_INPUT, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD_INPUT)])
def test_bad_input_is_refused_on_its_field_and_leaves_nothing(app, db, field, changes, message):
    w = world(app)
    form = draft_form(app, w, w.st1, "A10", "F-1")
    form.update(changes)
    with pytest.raises(OperationError) as refused, acting(app, w.st1) as (account, structure):
        ops.create_draft(account, structure, w.marche_id, form, main_file=ops.UploadedFile("f.pdf", PDF), now=NOW)
    assert refused.value.field == field and message in refused.value.message
    _nothing_left(app)


BAD_FILES = [
    ("main_file", ops.UploadedFile("../facture.pdf", PDF), "contient un chemin"),
    ("main_file", ops.UploadedFile("C:\\factures\\f.pdf", PDF), "contient un chemin"),
    ("main_file", ops.UploadedFile("facture.pdf", b"MZ\x90\x00 this is an executable"), "ne correspond pas"),
    ("main_file", ops.UploadedFile("facture.pdf", b""), "est vide"),
    ("main_file", ops.UploadedFile("facture.pdf", b"%PDF-1.4" + b"0" * (10 * 1024 * 1024)), "moins de 10 Mo"),
    ("main_file", ops.UploadedFile("facture.exe", PDF), "ne sont pas acceptés"),
    ("main_file", ops.UploadedFile("tableau.csv", b"a;b\n1;2\n"), "doit être un PDF"),
    ("files", ops.UploadedFile("x" * 47 + ".pdf", PDF), "50 au plus"),
]


@pytest.mark.parametrize("field, upload, message", BAD_FILES, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD_FILES)])
def test_bad_files_are_refused_and_leave_nothing(app, db, field, upload, message):
    w = world(app)
    form = draft_form(app, w, w.st1, "A10", "F-1")
    main = upload if field == "main_file" else ops.UploadedFile("f.pdf", PDF)
    extra = [upload] if field == "files" else []
    with pytest.raises(OperationError) as refused, acting(app, w.st1) as (account, structure):
        ops.create_draft(account, structure, w.marche_id, form, main_file=main, attachments=extra, now=NOW)
    assert refused.value.field == field and message in refused.value.message
    _nothing_left(app)


def test_attachments_together_at_most_120_mo(app, db):
    w = world(app)
    piece_id = create(app, w, w.st1, "A10", "F-1")
    big = b"%PDF-1.4\n" + b"0" * (10 * 1024 * 1024 - 100)
    files = [ops.UploadedFile(f"annexe-{i}.pdf", big[:-i - 1] + bytes([i])) for i in range(13)]
    with pytest.raises(OperationError, match="120 Mo au plus") as refused, acting(app, w.st1) as (account, structure):
        ops.add_files(ops.piece_for(structure, piece_id), files, role="attachment", account=account, now=NOW)
    assert refused.value.field == "files"
    assert count(app, PieceFile) == 1 and count(app, StoredFile) == 1  # the main PDF only


def test_a_number_is_unique_per_emitter_case_ignored_and_never_reused(app, db):
    w = world(app)
    first = deposit(app, w, w.sibling, "A10", "F-2026-1")
    act(app, w.mandataire, first, "refuse", reason="non_conforme")
    form = draft_form(app, w, w.sibling, "A10", "f-2026-1")
    with pytest.raises(OperationError) as refused, acting(app, w.sibling) as (account, structure):
        ops.create_draft(account, structure, w.marche_id, form, main_file=ops.UploadedFile("f.pdf", PDF), now=NOW)
    assert refused.value.field == "number" and "jamais réutilisé" in refused.value.message
    assert count(app, Piece) == 1
    # Another emitter may use the same number.
    assert status_of(app, deposit(app, w, w.st1, "A10", "F-2026-1")) == "A_VALIDER_1"


def test_file_name_duplicates_and_draft_file_removal(app, db):
    w = world(app)
    piece_id = create(app, w, w.st1, "A10", "F-1")
    with pytest.raises(OperationError, match="s'appelle déjà"), acting(app, w.st1) as (account, structure):
        ops.add_files(ops.piece_for(structure, piece_id), [ops.UploadedFile("FACTURE.PDF", PDF)], role="attachment",
                      account=account, now=NOW)
    with acting(app, w.st1) as (account, structure):
        main = ops.files_of(piece_id)[0]
        ops.remove_file(account, structure, piece_id, main.id, now=NOW)
    assert piece(app, piece_id).main_sha256 is None and count(app, PieceFile) == 0
    assert count(app, StoredFile) == 1  # contents stay (append-only), addressed by their hash


# --- credit notes and follow-up pieces -----------------------------------------------------------------------------


def test_credit_note_refers_to_an_original_of_the_same_emitter(app, db):
    w = world(app, kind="services")
    invoice = deposit(app, w, w.mandataire, "A1", "F-1", ht="1000.00")
    other = deposit(app, w, w.cotraitant, "A12", "F-9", ht="1000.00")
    form = draft_form(app, w, w.mandataire, "A1", "AV-1", ht="1200.00", piece_type="AVOIR",
                      original_piece_id=str(invoice))
    with pytest.raises(OperationError) as refused, acting(app, w.mandataire) as (account, structure):
        piece_id = ops.create_draft(account, structure, w.marche_id, form,
                                    main_file=ops.UploadedFile("avoir.pdf", PDF), now=NOW).id
        ops.deposit(piece_id, account, structure, now=NOW)
    assert refused.value.field == "montant_ttc" and "dépasse ce qui reste à créditer" in refused.value.message
    form = draft_form(app, w, w.mandataire, "A1", "AV-2", ht="200.00", piece_type="AVOIR",
                      original_piece_id=str(other))
    with pytest.raises(OperationError) as refused, acting(app, w.mandataire) as (account, structure):
        piece_id = ops.create_draft(account, structure, w.marche_id, form,
                                    main_file=ops.UploadedFile("avoir.pdf", PDF), now=NOW).id
        ops.deposit(piece_id, account, structure, now=NOW)
    # The mandataire sees the co-traitant's invoice (it validates it), but credits only its own.
    assert refused.value.field == "original_piece_id" and "envoyée par votre structure" in refused.value.message
    avoir = deposit(app, w, w.mandataire, "A1", "AV-3", ht="200.00", piece_type="AVOIR",
                    original_piece_id=str(invoice))
    assert piece(app, avoir).dossier_number == piece(app, invoice).dossier_number
    with acting(app, w.mandataire) as (_, structure):
        dossier = ops.dossier_of(ops.piece_for(structure, avoir), structure)
        assert [p.number for p in dossier.pieces] == ["F-1", "AV-3"]
        assert [e.event.action for e in dossier.timeline].count("deposit") == 2


def test_follow_up_piece_shares_the_dossier(app, db):
    w = world(app)
    pdm = deposit(app, w, w.mandataire, "A4", "PDM-1")
    ea = deposit(app, w, w.moe, "A15", "EA-1", previous_piece_id=str(pdm))
    assert piece(app, ea).dossier_number == piece(app, pdm).dossier_number
    assert piece(app, ea).previous_piece_id == pdm
    with system(app):
        assert db.session.scalar(select(Piece.number).where(Piece.id == piece(app, ea).previous_piece_id)) == "PDM-1"
