"""Sous-traitance through the Flask test client: a contractor declares a sous-traitant with its DC4, the MOA accepts
or refuses it, or stays silent 21 days and the deadline sweep accepts it (exactly once); DC4 avenants; amounts beyond
the contractor's part and subcontracting loops are refused and change nothing."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from chorus_chain.extensions import db
from chorus_chain.models import Dc4Avenant, Deadline, MarcheEvent, MarcheParty
from chorus_chain.models.base import utcnow
from tests import factories
from tests.integration.test_marches import (
    MARCHE_FORM,
    company,
    count,
    groupement,
    mails_to,
    ops_call,
    party_row,
    text,
)

PARIS = ZoneInfo("Europe/Paris")
IBAN, BIC = "FR7610278360110002134560171", "CMCIFR2A"


def dc4_form(parent_id: int, siret: str, montant: str = "96 000,00", **extra) -> dict:
    return {"parent_id": str(parent_id), "siret": siret, "dc4_nature": "Plâtrerie et cloisons",
            "montant_ttc": montant, "dc4_payment_terms": "30 jours", "iban": IBAN, "bic": BIC, **extra}


def declare(w, who, parent_id: int, sous_traitant, **form):
    return who.client.post(f"{who.base}/{w.marche_id}/sous-traitants/nouveau",
                           data=dc4_form(parent_id, sous_traitant.siret, **form))


def confirm(w, who, party_id: int) -> None:
    response = who.client.post(f"{who.base}/{w.marche_id}/parties/{party_id}/confirmation",
                               data={"decision": "confirm"})
    assert response.status_code == 302


def deadline_of(app, party_id: int) -> Deadline:
    with app.app_context():
        row = db.session.scalar(select(Deadline).where(Deadline.marche_party_id == party_id))
        db.session.expunge(row)
        return row


def sweep(app, now: datetime) -> dict:
    from chorus_chain.operations.deadlines import sweep as run

    with app.app_context():
        result = run(now)
        db.session.commit()
        return result


def test_declare_then_moa_accepts(app, db):
    w = groupement(app)
    leroy = company(app, "Plâtrerie Leroy")
    page = w.mandataire.client.get(f"{w.mandataire.base}/{w.marche_id}/sous-traitants/nouveau")
    assert page.status_code == 200 and "Durand Test — mandataire" in text(page)
    response = declare(w, w.mandataire, w.mandataire_party, leroy)
    assert response.status_code == 302, text(response)[:3000]
    row = party_row(app, w.marche_id, leroy.siret, "sous_traitant")
    assert (row.status, row.dc4_status, row.parent_id, str(row.montant_ttc)) == \
        ("invited", "pending", w.mandataire_party, "96000.00")
    assert row.iban == IBAN and row.dc4_received_at == utcnow().astimezone(PARIS).date()
    deadline = deadline_of(app, row.id)
    assert deadline.kind == "dc4_acceptance" and deadline.done_at is None
    assert deadline.due_at == datetime.combine(row.dc4_received_at + timedelta(days=22), datetime.min.time(),
                                               tzinfo=PARIS)
    assert any("DC4 à examiner" in m.subject for m in mails_to(app, w.moa.gp.email))
    assert any("Confirmez votre rôle" in m.subject for m in mails_to(app, leroy.gp.email))

    # The MOA sees the DC4 and decides; a refusal needs a reason.
    party_page = w.moa.client.get(f"{w.moa.base}/{w.marche_id}/parties/{row.id}")
    assert "Votre décision sur ce DC4" in text(party_page) and IBAN in text(party_page)
    no_reason = w.moa.client.post(f"{w.moa.base}/{w.marche_id}/parties/{row.id}/dc4", data={"decision": "refuse"})
    assert no_reason.status_code == 422 and 'id="reason-error">Indiquez le motif du refus' in text(no_reason)
    assert party_row(app, w.marche_id, leroy.siret, "sous_traitant").dc4_status == "pending"
    accepted = w.moa.client.post(f"{w.moa.base}/{w.marche_id}/parties/{row.id}/dc4", data={"decision": "accept"})
    assert accepted.status_code == 302
    row = party_row(app, w.marche_id, leroy.siret, "sous_traitant")
    assert row.dc4_status == "accepted" and row.accepted_on == utcnow().astimezone(PARIS).date()
    assert deadline_of(app, row.id).done_at is not None
    assert any("accepté" in m.subject for m in mails_to(app, w.mandataire.gp.email))
    # Only the MOA decides: the mandataire cannot.
    again = w.mandataire.client.post(f"{w.mandataire.base}/{w.marche_id}/parties/{row.id}/dc4",
                                     data={"decision": "accept"})
    assert again.status_code == 422 and "Seul le maître d'ouvrage" in text(again)

    # Once confirmed, the sous-traitant is in paiement direct (rang 1, ≥ 600 €) and uses A10.
    confirm(w, leroy, row.id)
    page = text(w.moa.client.get(f"{w.moa.base}/{w.marche_id}/parties/{row.id}"))
    assert "oui : payé directement par l'acheteur" in page
    assert "A10 — Projet de décompte mensuel de sous-traitant" in page


def test_tacit_acceptance_by_the_sweep_applies_once(app, db):
    w = groupement(app)
    leroy = company(app, "Plâtrerie Leroy")
    assert declare(w, w.mandataire, w.mandataire_party, leroy).status_code == 302
    row = party_row(app, w.marche_id, leroy.siret, "sous_traitant")
    due = deadline_of(app, row.id).due_at

    assert sweep(app, due - timedelta(seconds=1)) == {"done": 0, "applied": 0}
    assert party_row(app, w.marche_id, leroy.siret, "sous_traitant").dc4_status == "pending"
    assert sweep(app, due) == {"done": 1, "applied": 1}
    assert sweep(app, due + timedelta(days=3)) == {"done": 0, "applied": 0}  # twice: applied once
    row = party_row(app, w.marche_id, leroy.siret, "sous_traitant")
    assert row.dc4_status == "tacit" and row.accepted_on == due.astimezone(PARIS).date()
    assert deadline_of(app, row.id).done_at == due
    assert count(app, MarcheEvent, MarcheEvent.kind == "dc4.tacit") == 1
    assert any("accepté tacitement" in m.subject for m in mails_to(app, w.mandataire.gp.email))


def test_sweep_command_and_moot_deadline(app, db):
    w = groupement(app)
    leroy = company(app, "Plâtrerie Leroy")
    assert declare(w, w.mandataire, w.mandataire_party, leroy).status_code == 302
    row = party_row(app, w.marche_id, leroy.siret, "sous_traitant")
    # The sous-traitant declines: the deadline becomes moot, the sweep leaves the DC4 alone.
    confirm_decline = leroy.client.post(f"{leroy.base}/{w.marche_id}/parties/{row.id}/confirmation",
                                        data={"decision": "decline"})
    assert confirm_decline.status_code == 302
    assert deadline_of(app, row.id).done_at is not None
    runner = app.test_cli_runner()
    result = runner.invoke(args=["deadlines", "sweep", "--force",
                                 "--now", (utcnow() + timedelta(days=30)).isoformat()])
    assert result.exit_code == 0, result.output
    assert "0 échéance(s)" in result.output
    assert party_row(app, w.marche_id, leroy.siret, "sous_traitant").dc4_status == "pending"


def test_the_clock_waits_for_the_moa_to_confirm(app, db):
    from chorus_chain.operations import marches as ops

    moa = company(app, "Commune de Test", public=True, services=("FIN",))
    titulaire = company(app, "Bâtiments Martin")
    st = company(app, "Plâtrerie Leroy")
    marche_id = ops_call(app, ops.create_marche, titulaire, None, {
        **MARCHE_FORM, "creator_role": "titulaire", "moa_siret": moa.siret, "moa_service_code": ""})
    holder = party_row(app, marche_id, titulaire.siret, "titulaire")
    w = type("W", (), {"marche_id": marche_id})
    assert declare(w, titulaire, holder.id, st).status_code == 302
    row = party_row(app, marche_id, st.siret, "sous_traitant")
    assert row.dc4_received_at is None and count(app, Deadline, Deadline.marche_party_id == row.id) == 0
    moa_row = party_row(app, marche_id, moa.siret, "moa")
    confirm(w, moa, moa_row.id)
    row = party_row(app, marche_id, st.siret, "sous_traitant")
    assert row.dc4_received_at == utcnow().astimezone(PARIS).date()
    assert count(app, Deadline, Deadline.marche_party_id == row.id, Deadline.done_at.is_(None)) == 1


def test_amount_beyond_the_contractors_part_is_refused_and_nothing_changes(app, db):
    w = groupement(app)
    leroy, petit = company(app, "Plâtrerie Leroy"), company(app, "Peinture Petit")
    assert declare(w, w.mandataire, w.mandataire_party, leroy, montant="550 000").status_code == 302
    before = (count(app, MarcheParty), count(app, Deadline), count(app, MarcheEvent), len(factories.outbox(app)))
    response = declare(w, w.mandataire, w.mandataire_party, petit, montant="50 000,01")
    assert response.status_code == 422
    assert ('id="montant_ttc-error">Le montant sous-traité cumulé (600\u202f000,01\u00a0€ TTC) dépasse la part de '
            "l'entreprise (600\u202f000,00\u00a0€ TTC).") in text(response)
    after = (count(app, MarcheParty), count(app, Deadline), count(app, MarcheEvent), len(factories.outbox(app)))
    assert after == before


@pytest.mark.parametrize("field, value, message", [
    ("siret", "12345678901234", "Ce numéro SIRET n'est pas valide"),
    ("iban", "FR76 1234", "Cet IBAN n'est pas valide"),
    ("bic", "XX", "Ce BIC n'est pas valide"),
    ("montant_ttc", "0", "Indiquez le montant TTC"),
    ("parent_id", "999999", "Choisissez l'entreprise donneuse d'ordre"),
])
def test_bad_dc4_input_is_refused_field_by_field(app, db, field, value, message):
    w = groupement(app)
    leroy = company(app, "Plâtrerie Leroy")
    data = {**dc4_form(w.mandataire_party, leroy.siret), field: value}
    response = w.mandataire.client.post(f"{w.mandataire.base}/{w.marche_id}/sous-traitants/nouveau", data=data)
    assert response.status_code == 422
    assert f'id="{field}-error">{message}' in text(response)
    assert count(app, MarcheParty, MarcheParty.role == "sous_traitant") == 0


def test_paiement_direct_needs_bank_details(app, db):
    w = groupement(app)
    leroy = company(app, "Plâtrerie Leroy")
    response = declare(w, w.mandataire, w.mandataire_party, leroy, iban="", bic="")
    assert response.status_code == 422 and 'id="iban-error">Un sous-traitant de rang 1' in text(response)
    # Below 600 € TTC there is no paiement direct: no bank details needed.
    assert declare(w, w.mandataire, w.mandataire_party, leroy, montant="480", iban="", bic="").status_code == 302


def test_a_subcontracting_loop_is_refused(app, db):
    w = groupement(app)
    leroy = company(app, "Plâtrerie Leroy")
    assert declare(w, w.mandataire, w.mandataire_party, leroy).status_code == 302
    leroy_row = party_row(app, w.marche_id, leroy.siret, "sous_traitant")
    confirm(w, leroy, leroy_row.id)
    before = count(app, MarcheParty)
    # Leroy (rang 1 under Durand) declares Durand as its own sous-traitant: a loop.
    response = declare(w, leroy, leroy_row.id, w.mandataire, montant="1 000")
    assert response.status_code == 422
    assert 'id="siret-error">Boucle de sous-traitance (Plâtrerie Leroy, Durand Test)' in text(response)
    assert count(app, MarcheParty) == before
    # A rang-2 sous-traitant is fine, within Leroy's part.
    petit = company(app, "Peinture Petit")
    assert declare(w, leroy, leroy_row.id, petit, montant="18 000", iban="", bic="").status_code == 302
    too_much = declare(w, leroy, leroy_row.id, company(app, "Sols Durant"), montant="80 000", iban="", bic="")
    assert too_much.status_code == 422 and "dépasse la part" in text(too_much)


def test_dc4_avenant_changes_the_amount_within_the_part(app, db):
    w = groupement(app)
    leroy = company(app, "Plâtrerie Leroy")
    assert declare(w, w.mandataire, w.mandataire_party, leroy).status_code == 302
    row = party_row(app, w.marche_id, leroy.siret, "sous_traitant")
    url = f"{w.moa.base}/{w.marche_id}/parties/{row.id}/avenant"
    today = utcnow().astimezone(PARIS).date().isoformat()
    pending = w.moa.client.post(url, data={"new_montant_ttc": "100 000", "signed_on": today})
    assert pending.status_code == 422 and "Un avenant ne modifie qu'un DC4 accepté" in text(pending)
    w.moa.client.post(f"{w.moa.base}/{w.marche_id}/parties/{row.id}/dc4", data={"decision": "accept"})
    beyond = w.moa.client.post(url, data={"new_montant_ttc": "600 000,01", "signed_on": today})
    assert beyond.status_code == 422 and 'id="new_montant_ttc-error">Le montant sous-traité cumulé' in text(beyond)
    future = w.moa.client.post(url, data={"new_montant_ttc": "500", "signed_on": "2999-01-01"})
    assert future.status_code == 422 and 'id="signed_on-error">' in text(future)
    assert count(app, Dc4Avenant) == 0
    assert str(party_row(app, w.marche_id, leroy.siret, "sous_traitant").montant_ttc) == "96000.00"
    ok = w.moa.client.post(url, data={"new_montant_ttc": "500", "signed_on": today, "reason": "Réduction"})
    assert ok.status_code == 302
    assert str(party_row(app, w.marche_id, leroy.siret, "sous_traitant").montant_ttc) == "500.00"
    with app.app_context():
        avenant = db.session.scalar(select(Dc4Avenant))
        assert (str(avenant.old_montant_ttc), str(avenant.new_montant_ttc), avenant.signed_on) == \
            ("96000.00", "500.00", date.fromisoformat(today))
    page = text(w.moa.client.get(f"{w.moa.base}/{w.marche_id}/parties/{row.id}"))
    assert "Paiement direct</dt><dd>non" in page  # under 600 € TTC now: paid by its contractor


@pytest.mark.postgres
def test_two_sweepers_never_take_the_same_deadline(app, db):
    """FOR UPDATE SKIP LOCKED: while one sweeper holds a due deadline, another does not see it."""
    from sqlalchemy.orm import Session

    from chorus_chain.extensions import db as database
    from chorus_chain.operations.deadlines import due

    now = utcnow()
    with app.app_context():
        engine = database.engine
        with Session(engine) as setup:
            deadline = Deadline(kind="dc4_acceptance", due_at=now - timedelta(minutes=1))
            setup.add(deadline)
            setup.commit()
            ident = deadline.id
        try:
            with Session(engine) as first, Session(engine) as second:
                original = database.session
                try:
                    database.session = first
                    assert [d.id for d in due(now) if d.id == ident] == [ident]  # locked by the first sweeper
                    database.session = second
                    assert ident not in [d.id for d in due(now)]  # skipped by the second
                finally:
                    database.session = original
                first.rollback()
        finally:
            with Session(engine) as cleanup:
                cleanup.execute(Deadline.__table__.delete().where(Deadline.id == ident))
                cleanup.commit()
