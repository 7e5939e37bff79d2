"""The pieces' clocks in the deadline sweep: tacit validation after 15 days recorded as done by the system, the MOE
late (status and alerts), a clock answered in time, the reminders sent once each, and the periodic job."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from chorus_chain.extensions import db
from chorus_chain.models import Deadline, MailMessage, Notification, OutboxJob, PieceEvent
from chorus_chain.operations import pieces as ops
from tests.integration.pieces_world import NOW, act, acting, count, deposit, later, piece, rows, status_of, world
from tests.integration.pieces_world import mails as queued_mails


def sweep(app, now) -> dict:
    from chorus_chain.operations.deadlines import remind
    from chorus_chain.operations.deadlines import sweep as run

    with app.test_request_context():  # no tenant: the sweep says it reads across tenants
        result = run(now)
        result["reminded"] = remind(now)
        db.session.commit()
        return result


def test_tacit_validation_after_15_days_is_done_by_the_system(app, db):
    w = world(app)
    piece_id = deposit(app, w, w.st1, "A10", "F-1")
    due = NOW + timedelta(days=15)
    assert sweep(app, due - timedelta(seconds=1))["done"] == 0
    assert status_of(app, piece_id) == "A_VALIDER_1"
    assert sweep(app, due) == {"done": 1, "applied": 1, "reminded": 0}
    assert status_of(app, piece_id) == "A_ASSOCIER_MOE"
    events = rows(app, PieceEvent, PieceEvent.piece_id == piece_id, order_by=PieceEvent.seq)
    tacit = next(e for e in events if e.action == "tacit_validation")
    assert (tacit.actor, tacit.account_id, tacit.structure_id, tacit.actor_step) == ("system", None, None, "system")
    assert tacit.to_status == "ABSENCE_VALIDATION_1_HORS_DELAI" and tacit.at == due
    assert "Délai de validation" in tacit.reason and "17 mars 2026" in tacit.reason
    assert [e.action for e in events][-2:] == ["tacit_validation", "forward"]
    clocks = {d.kind: d for d in rows(app, Deadline, Deadline.piece_id == piece_id)}
    assert clocks["validation_1"].done_at == due and clocks["moe"].done_at is None
    # The emitter and the silent validator are told; the MOE must act now.
    expired = rows(app, Notification, Notification.piece_id == piece_id, Notification.kind == "deadline_expired")
    assert {n.structure_id for n in expired} == {w.st1.structure_id, w.mandataire.structure_id}
    assert count(app, Notification, Notification.structure_id == w.moe.structure_id,
                 Notification.kind == "piece_to_act") == 1
    assert sweep(app, due + timedelta(days=1))["done"] == 0  # applied once


def test_a_clock_answered_in_time_does_nothing(app, db):
    w = world(app)
    piece_id = deposit(app, w, w.st1, "A10", "F-1")
    act(app, w.mandataire, piece_id, "validate", now=later(3))
    assert sweep(app, later(9))["applied"] == 0  # validation_1 was due at 15 days, closed; the MOE's runs
    assert status_of(app, piece_id) == "A_ASSOCIER_MOE"
    assert count(app, PieceEvent, PieceEvent.action == "tacit_validation") == 0


def test_a_clock_left_open_by_mistake_is_just_done(app, db):
    """A TransitionRefused "not_allowed" means the piece was processed: the sweep sets done_at and moves on."""
    w = world(app)
    piece_id = deposit(app, w, w.st1, "A10", "F-1")
    act(app, w.mandataire, piece_id, "validate", now=later(1))
    with app.app_context():
        db.session.add(Deadline(kind="validation_1", piece_id=piece_id, due_at=later(2), created_at=later(1),
                                reminders_sent=[]))
        db.session.commit()
    assert sweep(app, later(3)) == {"done": 1, "applied": 0, "reminded": 0}
    assert status_of(app, piece_id) == "A_ASSOCIER_MOE"


def test_moe_late_alerts_the_titulaire_and_the_moa_then_the_emitter_refers_to_the_moa(app, db):
    w = world(app)
    piece_id = deposit(app, w, w.st1, "A10", "F-1")
    act(app, w.mandataire, piece_id, "validate", now=later(1))
    act(app, w.moe, piece_id, "take", now=later(2))
    assert sweep(app, later(8))["applied"] == 1  # 7 days from the MOE's receipt
    assert status_of(app, piece_id) == "ABSENCE_VALIDATION_MOE_DELAI_REGLEMENTAIRE"
    alerted = {n.structure_id for n in rows(app, Notification, Notification.piece_id == piece_id,
                                            Notification.kind == "deadline_expired")}
    assert alerted == {w.st1.structure_id, w.mandataire.structure_id, w.moa.structure_id}
    with acting(app, w.mandataire) as (_, structure):  # the holder above the emitter may go to the MOA
        assert "refer_to_moa" in [c.action for c in ops.allowed_actions_for(ops.piece_for(structure, piece_id),
                                                                            structure)]
    assert act(app, w.st1, piece_id, "refer_to_moa", now=later(9)) == "A_ASSOCIER_MOA"


def test_reminders_are_sent_once_each(app, db):
    w = world(app)
    piece_id = deposit(app, w, w.st1, "A10", "F-1")
    due = NOW + timedelta(days=15)
    assert sweep(app, due - timedelta(days=4))["reminded"] == 0
    assert sweep(app, due - timedelta(days=3))["reminded"] == 1
    assert sweep(app, due - timedelta(days=2, hours=12))["reminded"] == 0
    reminders = rows(app, Notification, Notification.kind == "deadline_reminder")
    assert [n.structure_id for n in reminders] == [w.mandataire.structure_id]
    assert "validation tacite dans 3 jours" in reminders[0].text
    assert sweep(app, due - timedelta(hours=20))["reminded"] == 1
    assert rows(app, Deadline, Deadline.piece_id == piece_id, Deadline.kind == "validation_1")[0].reminders_sent \
        == [1, 3]
    assert len(rows(app, Notification, Notification.kind == "deadline_reminder")) == 2
    mails = queued_mails(app, MailMessage.account_id == w.mandataire.account_id)
    assert any(m.subject.startswith("Rappel : pièce n° F-1") for m in mails)


def test_late_sweep_sends_one_reminder_for_several(app, db):
    w = world(app)
    deposit(app, w, w.st1, "A10", "F-1")
    assert sweep(app, NOW + timedelta(days=14, hours=12))["reminded"] == 1
    assert len(rows(app, Notification, Notification.kind == "deadline_reminder")) == 1


def test_dgp_overdue_alerts_the_emitter_and_the_paying_office(app, db):
    w = world(app, kind="services")
    piece_id = deposit(app, w, w.mandataire, "A1", "F-1")
    assert sweep(app, later(30))["applied"] == 1
    assert status_of(app, piece_id) == "MISE_A_DISPOSITION"  # no status change: interest runs
    alerted = {n.structure_id for n in rows(app, Notification, Notification.kind == "deadline_expired")}
    assert alerted == {w.mandataire.structure_id, w.moa.structure_id}


def test_periodic_job_sweeps_and_dispatches(app, db):
    from chorus_chain.jobs import periodic

    w = world(app)
    piece_id = deposit(app, w, w.st1, "A10", "F-1", now=NOW - timedelta(days=16),
                       issue_date="2026-02-10")
    with app.app_context():
        result = periodic.sweep_deadlines()
    assert result["done"] >= 1 and status_of(app, piece_id) == "A_ASSOCIER_MOE"
    with app.app_context():
        assert db.session.scalar(select(OutboxJob.id).where(OutboxJob.status == "pending")) is None
    assert piece(app, piece_id).status == "A_ASSOCIER_MOE"


def test_the_procfile_clock_sweeps_without_redis():
    from chorus_chain.config import ROOT

    processes = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line)
    assert processes["clock"] == "flask deadlines clock"  # PostgreSQL alone: no `rq cron`, which dies with Redis
    assert processes["mail"].endswith(" mail sweeps") and processes["documents"].endswith(" documents sweeps")

def test_a_pdm_referred_to_the_moa_goes_back_to_the_moe_etat_never_paid_alone(app, db):
    """The MOE is late, the sous-traitant refers its projet de décompte to the MOA: the MOA cannot validate nor pay
    it as claimed (the acompte is the état's); it sends it back to the MOE's desk, where the état takes it up."""
    from chorus_chain.operations import OperationError

    w = world(app)
    piece_id = deposit(app, w, w.st1, "A10", "F-1")
    act(app, w.mandataire, piece_id, "validate", now=later(1))
    act(app, w.moe, piece_id, "take", now=later(2))
    sweep(app, later(8))
    assert act(app, w.st1, piece_id, "refer_to_moa", now=later(9)) == "A_ASSOCIER_MOA"
    with acting(app, w.moa) as (_, structure):
        offered = [c.action for c in ops.allowed_actions_for(ops.piece_for(structure, piece_id), structure)]
    assert offered == ["return_etat"]
    events = count(app, PieceEvent, PieceEvent.piece_id == piece_id)
    for action in ("moa_take", "moa_validate"):
        with pytest.raises(OperationError, match="ne se valide ni ne se paie seul"):
            act(app, w.moa, piece_id, action, now=later(10))
    assert count(app, PieceEvent, PieceEvent.piece_id == piece_id) == events
    assert act(app, w.moa, piece_id, "return_etat", reason="Établissez l'état d'acompte du mois, s'il vous plaît.",
               now=later(10)) == "PRISE_EN_COMPTE_MOE"
