"""The alert of issue 19: when an expected receipt slips by more than a week, the company is told — once, durably,
by the clock's daily run — and never of a neighbour's money."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from chorus_chain.extensions import db
from chorus_chain.models import Notification
from chorus_chain.models.tresorerie import ExpectedReceipt
from chorus_chain.operations.marches import today as paris_day
from tests.integration.pieces_world import act, deposit, later, rows, system, world


def _watch(app, days: float):
    """The daily run at NOW + `days`, committed as the clock commits it."""
    from chorus_chain.operations.tresorerie.slips import watch_daily

    with app.test_request_context():
        announced = watch_daily(later(days))
        db.session.commit()
    return announced


def _slips(app, structure_id: int) -> list[Notification]:
    return rows(app, Notification, Notification.structure_id == structure_id, Notification.kind == "receipt_slip")


def _reference(app, structure_id: int, key: str):
    with system(app):
        return db.session.scalar(select(ExpectedReceipt.expected_on).where(
            ExpectedReceipt.structure_id == structure_id, ExpectedReceipt.flow_key == key))


def test_a_receipt_that_slips_by_more_than_a_week_is_announced_once(app, db):
    w = world(app, kind="services")
    piece_id = deposit(app, w, w.st1, "A9", "F-SLIP", now=later(0))
    act(app, w.mandataire, piece_id, "validate", now=later(1))  # at the paying office since NOW + 1 day
    entered = paris_day(later(1))
    key = f"piece:{piece_id}"
    # First seen: the reference is the legal date (no history: 30 days at the paying office); nothing to say.
    assert _watch(app, 5) == 0
    assert _reference(app, w.st1.structure_id, key) == entered + timedelta(days=30)
    assert _watch(app, 5.2) is None  # the same Paris day: done already
    assert _watch(app, 20) == 0 and _slips(app, w.st1.structure_id) == []
    # Past the 30 days with no payment: the forecast moves to 45 days (the slow end of what is known), 15 days later.
    assert _watch(app, 32) == 1
    [slip] = _slips(app, w.st1.structure_id)
    assert "F-SLIP" in slip.text and "au lieu du" in slip.text and "15 jours plus tard" in slip.text
    assert slip.url == f"/s/{w.st1.siret}/tresorerie" and slip.piece_id == piece_id
    assert _reference(app, w.st1.structure_id, key) == entered + timedelta(days=45)
    # The next days drift by a day or two: no second alert for the same slip.
    assert _watch(app, 33) == 0 and _watch(app, 40) == 0
    assert len(_slips(app, w.st1.structure_id)) == 1
    # Only the company owed the money is told: its contractor and the paying office pay it, a neighbour sees nothing.
    for other in (w.mandataire, w.moa, w.sibling):
        assert _slips(app, other.structure_id) == []
    # Paid: nothing is expected any more, the reference goes.
    act(app, w.moa, piece_id, "mark_service_fait", now=later(40.5))
    act(app, w.moa, piece_id, "mark_mandatee", now=later(40.6))
    act(app, w.moa, piece_id, "mark_paid", now=later(40.7), amount="1200,00",
        paid_on=paris_day(later(40.7)).isoformat())
    assert _watch(app, 41) == 0 and _reference(app, w.st1.structure_id, key) is None


def test_the_clock_runs_the_watch_after_the_sweep(app, db):
    from chorus_chain.jobs.clock import tick

    w = world(app, kind="services")
    piece_id = deposit(app, w, w.st1, "A9", "F-CLOCK", now=later(0))
    act(app, w.mandataire, piece_id, "validate", now=later(1))
    with app.test_request_context():
        assert tick(later(5))["receipt_slips"] == 0
    assert _reference(app, w.st1.structure_id, f"piece:{piece_id}") == paris_day(later(1)) + timedelta(days=30)
    with app.test_request_context():
        assert tick(later(32))["receipt_slips"] == 1
        assert tick(later(32.01))["receipt_slips"] == 0  # once a day
    assert len(_slips(app, w.st1.structure_id)) == 1
